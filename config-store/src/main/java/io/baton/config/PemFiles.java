package io.baton.config;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A certificate chain and its private key from PEM files, as an operator makes them with
 * {@code openssl}: checked before anything listens with them. The certificate file holds the
 * server's certificate first, then any intermediates; the key file one unencrypted PKCS#8 key
 * ({@code -----BEGIN PRIVATE KEY-----}; RSA, EC or Ed25519), readable by its owner (and group)
 * only. The key must match the certificate, and the certificate must be valid now.
 */
public final class PemFiles {

    /** A chain (the server's certificate first) and the key of its first certificate. */
    public record Pair(List<X509Certificate> chain, PrivateKey key) {
        public Pair {
            chain = List.copyOf(chain);
        }

        public X509Certificate certificate() {
            return chain.get(0);
        }
    }

    /** Files that cannot be used; the message names the file and says why. */
    public static final class Unusable extends Exception {
        public Unusable(String message) {
            super(message);
        }
    }

    /** No PEM file of a certificate and key is anywhere near this large. */
    private static final long MAX_BYTES = 1 << 20;
    private static final Pattern KEY = Pattern.compile(
            "-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\\s]+)-----END PRIVATE KEY-----");

    private PemFiles() {
    }

    /** Reads and checks {@code certificateFile} and {@code keyFile} at {@code now}. */
    public static Pair load(Path certificateFile, Path keyFile, Instant now) throws Unusable {
        List<X509Certificate> chain = certificates(certificateFile);
        PrivateKey key = privateKey(keyFile);
        X509Certificate first = chain.get(0);
        if (!matches(key, first)) {
            throw new Unusable(keyFile + " is not the key of the certificate in " + certificateFile + " ("
                    + first.getSubjectX500Principal().getName() + ")");
        }
        if (now.isAfter(first.getNotAfter().toInstant())) {
            throw new Unusable("the certificate in " + certificateFile + " expired on "
                    + first.getNotAfter().toInstant());
        }
        if (now.isBefore(first.getNotBefore().toInstant())) {
            throw new Unusable("the certificate in " + certificateFile + " is not valid before "
                    + first.getNotBefore().toInstant() + " (is this host's clock right?)");
        }
        return new Pair(chain, key);
    }

    /** The certificates of a PEM file (a chain, or a CA bundle), at least one. */
    public static List<X509Certificate> certificates(Path file) throws Unusable {
        byte[] bytes = read(file);
        Collection<? extends Certificate> read;
        try {
            read = CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(bytes));
        } catch (CertificateException e) {
            throw new Unusable(file + " is not a PEM certificate file: " + e.getMessage());
        }
        List<X509Certificate> chain = new ArrayList<>();
        for (Certificate certificate : read) {
            chain.add((X509Certificate) certificate);
        }
        if (chain.isEmpty()) {
            throw new Unusable(file + " holds no certificate (-----BEGIN CERTIFICATE-----)");
        }
        return chain;
    }

    private static PrivateKey privateKey(Path file) throws Unusable {
        try {
            Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(file);
            if (permissions.contains(PosixFilePermission.OTHERS_READ)
                    || permissions.contains(PosixFilePermission.OTHERS_WRITE)) {
                throw new Unusable("the key file " + file + " may be read by others than its owner and group;"
                        + " run: chmod 600 " + file);
            }
        } catch (IOException | UnsupportedOperationException e) {
            // read() below says what is wrong with the file
        }
        String text = new String(read(file), StandardCharsets.US_ASCII);
        Matcher matcher = KEY.matcher(text);
        if (!matcher.find()) {
            throw new Unusable(file + " holds no unencrypted PKCS#8 key (-----BEGIN PRIVATE KEY-----); convert one"
                    + " with: openssl pkcs8 -topk8 -nocrypt -in OLD -out " + file);
        }
        byte[] der;
        try {
            der = Base64.getMimeDecoder().decode(matcher.group(1));
        } catch (IllegalArgumentException e) {
            throw new Unusable(file + ": the key is not valid base64");
        }
        for (String algorithm : List.of("RSA", "EC", "Ed25519")) {
            try {
                return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
            } catch (GeneralSecurityException e) {
                // try the next algorithm
            }
        }
        throw new Unusable(file + " holds a key that is not RSA, EC or Ed25519, or is damaged");
    }

    /** Whether {@code key} signs what the certificate's public key verifies. */
    private static boolean matches(PrivateKey key, X509Certificate certificate) {
        String algorithm = switch (key.getAlgorithm()) {
            case "RSA" -> "SHA256withRSA";
            case "EC" -> "SHA256withECDSA";
            default -> key.getAlgorithm();
        };
        try {
            byte[] challenge = new byte[32];
            new SecureRandom().nextBytes(challenge);
            Signature signer = Signature.getInstance(algorithm);
            signer.initSign(key);
            signer.update(challenge);
            byte[] signature = signer.sign();
            Signature verifier = Signature.getInstance(algorithm);
            verifier.initVerify(certificate.getPublicKey());
            verifier.update(challenge);
            return verifier.verify(signature);
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    private static byte[] read(Path file) throws Unusable {
        try {
            if (Files.size(file) > MAX_BYTES) {
                throw new Unusable(file + " is larger than " + MAX_BYTES + " bytes: not a certificate or key file");
            }
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new Unusable(file + ": no such file");
        } catch (AccessDeniedException e) {
            throw new Unusable(file + ": permission denied");
        } catch (IOException e) {
            throw new Unusable(file + ": cannot read: " + e.getMessage());
        }
    }
}
