package io.baton.config;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

/** Self-signed certificates and keys as an operator makes them with openssl, for tests of every module. */
public final class TestCertificates {

    private TestCertificates() {
    }

    /**
     * {certificate, key} in {@code dir}: a self-signed certificate with common name {@code name} and
     * the subject alternative names {@code san} (openssl's form: {@code IP:127.0.0.1,DNS:localhost}),
     * valid from now for a year; its key ({@code ec} P-256, {@code rsa} 2048 bits, or openssl's
     * {@code -newkey} argument, e.g. {@code ed25519}) readable by its owner only.
     */
    public static Path[] selfSigned(Path dir, String name, String san, String keyType) throws Exception {
        return selfSigned(dir, name, san, keyType, 365);
    }

    /** Like {@link #selfSigned(Path, String, String, String)}, valid for {@code days} days from now. */
    public static Path[] selfSigned(Path dir, String name, String san, String keyType, int days) throws Exception {
        Path certificate = dir.resolve(name + ".crt");
        Path key = dir.resolve(name + ".key");
        List<String> command = new ArrayList<>(List.of("openssl", "req", "-x509", "-nodes", "-days", String.valueOf(days),
                "-subj", "/CN=" + name, "-addext", "subjectAltName=" + san, "-keyout", key.toString(), "-out",
                certificate.toString()));
        command.addAll(switch (keyType) {
            case "ec" -> List.of("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256");
            case "rsa" -> List.of("-newkey", "rsa:2048");
            default -> List.of("-newkey", keyType);
        });
        run(command);
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));
        return new Path[] {certificate, key};
    }

    /** Runs a command with nothing on its input; returns what it printed, failing if it exits non-zero. */
    public static String run(List<String> command) throws Exception {
        Process process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        String said = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (process.waitFor() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " failed: " + said);
        }
        return said;
    }
}
