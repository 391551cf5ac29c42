package io.baton.appliance;

import io.baton.appliance.admin.AdminTokens;
import io.baton.config.HostPort;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The admin API over HTTPS (--admin-cert, --admin-key), met by real clients: curl and openssl
 * s_client with the operator's certificate, the CLI with --cacert, and clients that try less.
 */
class AdminTlsTest {

    @TempDir
    Path work;

    @Test
    void anHttpsApiAnswersClientsThatTrustItsCertificateOverTls12Or13Only() throws Exception {
        Path[] pair = certificate("admin");
        String ops = AdminTokens.newLine("ops", AdminTokens.Role.ADMIN);
        Path tokens = Files.writeString(work.resolve("admin.tokens"), ops + "\n");
        Files.setPosixFilePermissions(tokens, PosixFilePermissions.fromString("rw-------"));
        Path token = Files.writeString(work.resolve("ops.token"), ops + "\n");
        try (ApplianceNode node = ApplianceNode.start(new NodeOptions(LoopbackExample.write(work), "lb1",
                work.resolve("state"), new HostPort("127.0.0.1", 0), tokens, List.of(), null, pair[0], pair[1]))) {
            String address = node.adminAddress().toString();
            String url = "https://" + address;

            assertThat(run("curl", "-s", "--cacert", pair[0].toString(), url + "/healthz")).contains("\"status\" : \"ok\"");
            assertThat(run("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", pair[0].toString(),
                    url + "/api/v1/status")).as("TLS does not replace the token").isEqualTo("401");
            assertThat(run("curl", "-s", "--cacert", pair[0].toString(), "-H", "Authorization: Bearer "
                    + ops.split(" ")[2], url + "/api/v1/status")).contains("\"node\" : \"lb1\"");
            assertThat(run("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url + "/healthz"))
                    .as("a client that does not trust the certificate").isEqualTo("000");
            assertThat(run("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", pair[0].toString(),
                    "--tlsv1.1", "--tls-max", "1.1", url + "/healthz")).as("TLS 1.1").isEqualTo("000");
            assertThat(run("openssl", "s_client", "-connect", address, "-tls1_3", "-CAfile", pair[0].toString(),
                    "-brief")).contains("Verification: OK").contains("Protocol version: TLSv1.3");
            assertThat(run("openssl", "s_client", "-connect", address, "-tls1_2", "-CAfile", pair[0].toString(),
                    "-brief")).contains("Protocol version: TLSv1.2");

            // plain HTTP to the HTTPS port: nothing of the API comes back
            try (Socket plain = new Socket()) {
                plain.connect(new InetSocketAddress("127.0.0.1", node.adminAddress().port()), 2000);
                plain.setSoTimeout(5000);
                plain.getOutputStream().write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                        .getBytes(StandardCharsets.US_ASCII));
                InputStream in = plain.getInputStream();
                assertThat(new String(in.readAllBytes(), StandardCharsets.ISO_8859_1)).doesNotContain("lb1");
            }

            // the CLI: --cacert (or $BATON_CACERT) makes it speak HTTPS and trust that certificate only
            assertThat(TestCli.run("status", "--admin", address, "--token-file", token.toString(), "--cacert",
                    pair[0].toString())).startsWith("0:").contains("lb1");
            assertThat(TestCli.run("status", "--admin", address, "--token-file", token.toString()))
                    .startsWith("2:").contains("--cacert");
            Path[] other = certificate("other");
            assertThat(TestCli.run("status", "--admin", address, "--token-file", token.toString(), "--cacert",
                    other[0].toString())).as("a certificate it was not told to trust").startsWith("2:");
            assertThat(TestCli.run("status", "--admin", address, "--cacert", work.resolve("none.pem").toString()))
                    .startsWith("64:").contains("--cacert").contains("no such file");
        }
    }

    @Test
    void aNodeWhoseCertificateCannotServeDoesNotStartAndSaysWhy() throws Exception {
        Path example = LoopbackExample.write(work);
        Path[] one = certificate("one");
        Path[] two = certificate("two");
        assertThatThrownBy(() -> start(example, one[0], null)).isInstanceOf(NodeStartException.class)
                .hasMessageContaining("--admin-cert and --admin-key go together");
        assertThatThrownBy(() -> start(example, one[0], two[1])).isInstanceOf(NodeStartException.class)
                .hasMessageContaining("--admin-cert/--admin-key").hasMessageContaining("is not the key of the certificate");
        Files.setPosixFilePermissions(one[1], PosixFilePermissions.fromString("rw-r--r--"));
        assertThatThrownBy(() -> start(example, one[0], one[1])).isInstanceOf(NodeStartException.class)
                .hasMessageContaining("chmod 600");
        assertThat(work.resolve("state").resolve("revision-0000000001.json")).as("nothing stored").doesNotExist();
    }

    private void start(Path example, Path certificate, Path key) throws Exception {
        ApplianceNode.start(new NodeOptions(example, "lb1", work.resolve("state"), new HostPort("127.0.0.1", 0),
                null, List.of(), null, certificate, key)).close();
    }

    /** {certificate, key}: self-signed for 127.0.0.1, as the README says to make one. */
    private Path[] certificate(String name) throws Exception {
        return io.baton.config.TestCertificates.selfSigned(work, name, "IP:127.0.0.1,DNS:localhost", "ec");
    }

    private static String run(String... command) throws Exception {
        Process process = new ProcessBuilder(new ArrayList<>(List.of(command))).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        String said = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        process.waitFor();
        return said.strip();
    }
}
