package io.baton.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Certificate and key files as openssl makes them, and the ways they go wrong. */
class PemFilesTest {

    @TempDir
    Path work;

    @Test
    void aCertificateAndItsKeyOfEveryKindAreLoaded() throws Exception {
        for (String type : List.of("ec", "rsa", "ed25519")) {
            Path[] pair = make(type, "server-" + type);
            PemFiles.Pair loaded = PemFiles.load(pair[0], pair[1], Instant.now());
            assertThat(loaded.certificate().getSubjectX500Principal().getName()).isEqualTo("CN=server-" + type);
        }
    }

    @Test
    void theKeyOfAnotherCertificateIsRefusedNamingBothFiles() throws Exception {
        Path[] one = make("ec", "one");
        Path[] two = make("ec", "two");
        assertThatThrownBy(() -> PemFiles.load(one[0], two[1], Instant.now())).isInstanceOf(PemFiles.Unusable.class)
                .hasMessageContaining(two[1] + " is not the key of the certificate in " + one[0]);
    }

    @Test
    void anExpiredOrNotYetValidCertificateIsRefused() throws Exception {
        Path[] pair = make("ec", "dated");
        assertThatThrownBy(() -> PemFiles.load(pair[0], pair[1], Instant.now().plus(Duration.ofDays(400))))
                .hasMessageContaining("expired on");
        assertThatThrownBy(() -> PemFiles.load(pair[0], pair[1], Instant.now().minus(Duration.ofDays(2))))
                .hasMessageContaining("is not valid before");
    }

    @Test
    void unusableFilesAreRefusedWithTheReason() throws Exception {
        Path[] pair = make("ec", "files");
        Path garbage = Files.writeString(work.resolve("garbage.pem"), "-----BEGIN CERTIFICATE-----\n!!!\n");
        assertThatThrownBy(() -> PemFiles.load(garbage, pair[1], Instant.now()))
                .hasMessageContaining(garbage + " is not a PEM certificate file");
        Path empty = Files.writeString(work.resolve("empty.pem"), "");
        assertThatThrownBy(() -> PemFiles.load(empty, pair[1], Instant.now())).hasMessageContaining("holds no certificate");
        assertThatThrownBy(() -> PemFiles.load(work.resolve("none.pem"), pair[1], Instant.now()))
                .hasMessageContaining("no such file");
        Path certificateAsKey = Files.copy(pair[0], work.resolve("certificate-as.key"));
        Files.setPosixFilePermissions(certificateAsKey, PosixFilePermissions.fromString("rw-------"));
        assertThatThrownBy(() -> PemFiles.load(pair[0], certificateAsKey, Instant.now()))
                .as("a certificate given as the key").hasMessageContaining("holds no unencrypted PKCS#8 key");

        Files.setPosixFilePermissions(pair[1], PosixFilePermissions.fromString("rw-r--r--"));
        assertThatThrownBy(() -> PemFiles.load(pair[0], pair[1], Instant.now()))
                .hasMessageContaining("may be read by others").hasMessageContaining("chmod 600 " + pair[1]);

        Path huge = work.resolve("huge.pem");
        try (var out = Files.newOutputStream(huge)) {
            out.write(new byte[(1 << 20) + 1]);
        }
        assertThatThrownBy(() -> PemFiles.load(huge, pair[1], Instant.now())).hasMessageContaining("larger than");

        Path damaged = Files.writeString(work.resolve("damaged.key"),
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
        Files.setPosixFilePermissions(damaged, PosixFilePermissions.fromString("rw-------"));
        assertThatThrownBy(() -> PemFiles.load(pair[0], damaged, Instant.now())).hasMessageContaining("damaged");
    }

    /** {certificate, key} of a self-signed certificate for 127.0.0.1, valid from now for a year. */
    private Path[] make(String type, String name) throws Exception {
        return TestCertificates.selfSigned(work, name, "IP:127.0.0.1", type);
    }
}
