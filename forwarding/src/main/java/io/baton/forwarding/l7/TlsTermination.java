package io.baton.forwarding.l7;

import io.baton.config.PemFiles;
import io.baton.config.TlsSettings;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SniHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.DomainWildcardMappingBuilder;
import io.netty.util.Mapping;

import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import java.nio.file.Path;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * The TLS a service terminates, built from its {@link TlsSettings} at each apply: one server
 * context per certificate, chosen by the client's SNI name (a certificate's DNS subject alternative
 * names, or its common name when it has none; wildcards as {@code *.example.org}), the first
 * certificate for a client that names none or another. TLS 1.2 and 1.3 only, with forward-secret
 * AEAD ciphers only; with a client CA, a client must present a certificate it signed. OpenSSL
 * does the TLS where it loads ({@link #PROVIDER}).
 * Connections keep the context they began with: a rebuilt one serves new connections only.
 */
public final class TlsTermination {

    static final List<String> PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");
    /** TLS 1.3's suites, then TLS 1.2's ECDHE with AES-GCM or ChaCha20-Poly1305 (Mozilla's "intermediate"). */
    static final List<String> CIPHERS = List.of(
            "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256");

    /**
     * Who does the TLS: OpenSSL (BoringSSL, netty-tcnative) where it loads, else the JDK; the system
     * property {@code baton.tls.provider} ({@code openssl} or {@code jdk}) chooses for benchmarks.
     */
    static final SslProvider PROVIDER = provider(System.getProperty("baton.tls.provider"));

    static SslProvider provider(String wanted) {
        if ("jdk".equals(wanted)) {
            return SslProvider.JDK;
        }
        if (io.netty.handler.ssl.OpenSsl.isAvailable()) {
            return SslProvider.OPENSSL;
        }
        org.apache.logging.log4j.LogManager.getLogger(TlsTermination.class).warn(
                "OpenSSL (netty-tcnative) does not load here ({}): TLS termination uses the JDK's TLS",
                String.valueOf(io.netty.handler.ssl.OpenSsl.unavailabilityCause()));
        return SslProvider.JDK;
    }

    /** One certificate in service: the names it answers for and when it expires. */
    public record Served(String certificateFile, List<String> names, Instant notAfter) {
    }

    private final Mapping<String, SslContext> bySni;
    private final List<Served> served;
    /** TLS to the real servers (re-encryption); null for clear text. */
    private final SslContext toServers;

    private TlsTermination(Mapping<String, SslContext> bySni, List<Served> served, SslContext toServers) {
        this.bySni = bySni;
        this.served = List.copyOf(served);
        this.toServers = toServers;
    }

    /** Reads and checks every file now; the message of a failure names the file and says why. */
    static TlsTermination build(TlsSettings settings, Instant now) throws PemFiles.Unusable {
        List<X509Certificate> trusted = settings.clientCa() == null ? List.of()
                : PemFiles.certificates(Path.of(settings.clientCa()));
        List<SslContext> contexts = new ArrayList<>();
        List<Served> served = new ArrayList<>();
        for (TlsSettings.CertificateFiles files : settings.certificates()) {
            PemFiles.Pair pair = PemFiles.load(Path.of(files.certificate()), Path.of(files.key()), now);
            SslContextBuilder builder = SslContextBuilder
                    .forServer(pair.key(), pair.chain().toArray(X509Certificate[]::new))
                    .sslProvider(PROVIDER)
                    .protocols(PROTOCOLS)
                    .ciphers(CIPHERS);
            if (!trusted.isEmpty()) {
                builder.trustManager(trusted.toArray(X509Certificate[]::new)).clientAuth(ClientAuth.REQUIRE);
            }
            try {
                contexts.add(builder.build());
            } catch (javax.net.ssl.SSLException | RuntimeException e) {
                throw new PemFiles.Unusable("cannot serve the certificate in " + files.certificate() + ": "
                        + e.getMessage());
            }
            served.add(new Served(files.certificate(), names(pair.certificate()),
                    pair.certificate().getNotAfter().toInstant()));
        }
        DomainWildcardMappingBuilder<SslContext> mapping = new DomainWildcardMappingBuilder<>(contexts.get(0));
        // the first certificate that names a host wins it: added last
        for (int i = contexts.size() - 1; i >= 0; i--) {
            for (String name : served.get(i).names()) {
                mapping.add(name, contexts.get(i));
            }
        }
        return new TlsTermination(mapping.build(), served, toServers(settings.toServers()));
    }

    private static SslContext toServers(TlsSettings.ToServers settings) throws PemFiles.Unusable {
        if (settings == null) {
            return null;
        }
        // no name to check: servers are addressed by IP (Netty 4.2 checks the peer's name by default)
        SslContextBuilder builder = SslContextBuilder.forClient().sslProvider(PROVIDER).protocols(PROTOCOLS)
                .ciphers(CIPHERS).endpointIdentificationAlgorithm(null);
        if (!settings.verify()) {
            builder.trustManager(io.netty.handler.ssl.util.InsecureTrustManagerFactory.INSTANCE);
        } else if (settings.ca() != null) {
            builder.trustManager(PemFiles.certificates(Path.of(settings.ca())).toArray(X509Certificate[]::new));
        }
        try {
            return builder.build();
        } catch (javax.net.ssl.SSLException | RuntimeException e) {
            throw new PemFiles.Unusable("cannot speak TLS to the servers: " + e.getMessage());
        }
    }

    /** Whether connections to the real servers are encrypted too. */
    boolean reencrypts() {
        return toServers != null;
    }

    /**
     * The first handler of a connection to a real server when the service re-encrypts: TLS with the
     * server's certificate checked against the CA (not its name: servers are addressed by IP).
     */
    io.netty.handler.ssl.SslHandler newServerHandler(io.netty.buffer.ByteBufAllocator alloc) {
        return toServers.newHandler(alloc);
    }

    /** A client's ClientHello must arrive, and its handshake end, within this (each; Netty's SslHandler's default). */
    static final long HANDSHAKE_TIMEOUT_MILLIS = 10_000;
    /** The longest ClientHello read (a real one is under 2 KiB; post-quantum key shares add about 1 KiB). */
    static final int MAX_CLIENT_HELLO = 16 * 1024;

    /**
     * The first handler of a client connection: reads the ClientHello (at most {@link #MAX_CLIENT_HELLO},
     * within {@link #HANDSHAKE_TIMEOUT_MILLIS}) and hands over to the certificate's TLS. A client that
     * sends something else, too much or too slowly is closed.
     */
    SniHandler newHandler() {
        return new SniHandler(bySni, MAX_CLIENT_HELLO, HANDSHAKE_TIMEOUT_MILLIS);
    }

    List<Served> served() {
        return served;
    }

    /** The DNS names a certificate is for: its subject alternative names, or else its common name. */
    static List<String> names(X509Certificate certificate) {
        List<String> names = new ArrayList<>();
        try {
            Collection<List<?>> alternatives = certificate.getSubjectAlternativeNames();
            if (alternatives != null) {
                for (List<?> alternative : alternatives) {
                    if (Integer.valueOf(2).equals(alternative.get(0))) {   // dNSName
                        names.add(String.valueOf(alternative.get(1)).toLowerCase(java.util.Locale.ROOT));
                    }
                }
            }
        } catch (CertificateParsingException e) {
            // no usable alternative names: the common name below
        }
        if (names.isEmpty()) {
            try {
                for (Rdn rdn : new LdapName(certificate.getSubjectX500Principal().getName()).getRdns()) {
                    if (rdn.getType().equalsIgnoreCase("CN")) {
                        names.add(String.valueOf(rdn.getValue()).toLowerCase(java.util.Locale.ROOT));
                    }
                }
            } catch (javax.naming.InvalidNameException e) {
                // a subject that is not a name: the certificate serves as the default only
            }
        }
        return names;
    }
}
