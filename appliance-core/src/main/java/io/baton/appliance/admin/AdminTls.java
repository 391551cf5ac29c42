package io.baton.appliance.admin;

import io.baton.appliance.NodeStartException;
import io.baton.config.PemFiles;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import javax.net.ssl.SSLException;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;

/**
 * HTTPS for the admin API ({@code --admin-cert}, {@code --admin-key}): the operator's certificate
 * and key (PEM), checked before the node starts (readable, the key the certificate's, valid now),
 * TLS 1.3 and 1.2 only, the JDK's provider and its default cipher suites for those versions. The
 * tokens are still required: TLS keeps them and the config off the wire, it does not replace them.
 */
public final class AdminTls {

    /** A certificate expiring this soon is warned about at start. */
    static final Duration EXPIRY_WARNING = Duration.ofDays(14);
    private static final Logger LOG = LogManager.getLogger(AdminTls.class);

    private AdminTls() {
    }

    /** The server context for {@code certificate} and {@code key}; null when neither is given. */
    public static SslContext load(Path certificate, Path key) throws NodeStartException {
        if (certificate == null && key == null) {
            return null;
        }
        if (certificate == null || key == null) {
            throw new NodeStartException("--admin-cert and --admin-key go together: give both (PEM files) or neither");
        }
        PemFiles.Pair pair;
        try {
            pair = PemFiles.load(certificate, key, Instant.now());
        } catch (PemFiles.Unusable e) {
            throw new NodeStartException("--admin-cert/--admin-key: " + e.getMessage(), e);
        }
        Instant expires = pair.certificate().getNotAfter().toInstant();
        if (Instant.now().plus(EXPIRY_WARNING).isAfter(expires)) {
            LOG.warn("the admin API's certificate {} expires on {}: replace it (--admin-cert) before then", certificate,
                    expires);
        }
        try {
            return SslContextBuilder.forServer(pair.key(), pair.chain().toArray(X509Certificate[]::new))
                    .sslProvider(SslProvider.JDK)
                    .protocols("TLSv1.3", "TLSv1.2")
                    .build();
        } catch (SSLException | IllegalArgumentException e) {
            throw new NodeStartException("--admin-cert/--admin-key: " + certificate + " and " + key
                    + " cannot serve TLS: " + e.getMessage(), e);
        }
    }
}
