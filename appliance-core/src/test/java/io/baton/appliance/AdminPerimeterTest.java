package io.baton.appliance;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.baton.appliance.admin.AdminTokens;
import io.baton.appliance.cli.BatonCli;
import io.baton.config.HostPort;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * The admin API as an attacker meets it: a real node, real HTTP written byte by byte (browsers' and
 * rebinding pages' headers included), and what each refused request did not change.
 */
class AdminPerimeterTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path work;

    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    @Test
    void anApiOthersCanReachDoesNotStartWithoutTokens() throws Exception {
        Path example = LoopbackExample.write(work);
        assertThatThrownBy(() -> ApplianceNode.start(new NodeOptions(example, "lb1", work.resolve("state"),
                new HostPort("0.0.0.0", 0))))
                .isInstanceOf(NodeStartException.class).hasMessageContaining("--admin-tokens");

        Path readable = Files.writeString(work.resolve("open.tokens"),
                AdminTokens.newLine("ops", AdminTokens.Role.ADMIN) + "\n");
        Files.setPosixFilePermissions(readable, PosixFilePermissions.fromString("rw-r--r--"));
        assertThatThrownBy(() -> ApplianceNode.start(new NodeOptions(example, "lb1", work.resolve("state"),
                new HostPort("0.0.0.0", 0), readable, List.of())))
                .isInstanceOf(NodeStartException.class).hasMessageContaining("--admin-tokens").hasMessageContaining("chmod 600");
    }

    @Test
    void withTokensOnlyTheirHoldersGetInAndAReadTokenOnlyReads() throws Exception {
        String ops = AdminTokens.newLine("ops", AdminTokens.Role.ADMIN);
        String monitor = AdminTokens.newLine("monitor", AdminTokens.Role.READ);
        Path tokens = Files.writeString(work.resolve("admin.tokens"), "# this node's tokens\n" + ops + "\n" + monitor
                + "\n");
        Files.setPosixFilePermissions(tokens, PosixFilePermissions.fromString("rw-------"));
        ApplianceNode node = start(new NodeOptions(LoopbackExample.write(work), "lb1", work.resolve("state"),
                new HostPort("0.0.0.0", 0), tokens, List.of()));
        HostPort admin = new HostPort("127.0.0.1", node.adminAddress().port());
        String drain = "{\"state\": \"drain\"}";
        String state = "/api/v1/services/web-viewer/servers/viewer1/state";

        assertThat(status(http(admin, "GET", "/healthz", null, null, null))).as("healthz is anyone's").isEqualTo(200);
        Answer missing = http(admin, "GET", "/api/v1/config", null, null, null);
        assertThat(status(missing)).isEqualTo(401);
        assertThat(missing.text().toLowerCase(java.util.Locale.ROOT)).contains("www-authenticate: bearer")
                .doesNotContain("web-viewer");
        assertThat(status(http(admin, "GET", "/metrics", null, null, bearer("not-a-token-" + "x".repeat(40)))))
                .isEqualTo(401);
        assertThat(status(http(admin, "PUT", state, "application/json", drain, null))).isEqualTo(401);
        assertThat(status(http(admin, "PUT", state, "application/json", drain, bearer(secret(monitor)))))
                .as("a read token cannot drain").isEqualTo(403);
        assertThat(serverState(admin, bearer(secret(monitor)))).isEqualTo("online");
        assertThat(status(http(admin, "GET", "/metrics", null, null, bearer(secret(monitor))))).isEqualTo(200);

        assertThat(status(http(admin, "PUT", state, "application/json", drain, bearer(secret(ops))))).isEqualTo(200);
        assertThat(serverState(admin, bearer(secret(ops)))).isEqualTo("drain");

        // the CLI: the token from a file (the secret alone, or the whole line), or from the environment's file
        Path secretFile = Files.writeString(work.resolve("ops.token"), secret(ops) + "\n");
        Path lineFile = Files.writeString(work.resolve("monitor.token"), monitor + "\n");
        assertThat(cli("status", "--admin", admin.toString())).startsWith("1:").contains("401");
        assertThat(cli("status", "--admin", admin.toString(), "--token-file", lineFile.toString())).startsWith("0:");
        assertThat(cli("online", "web-viewer", "viewer1", "--admin", admin.toString(), "--token-file",
                lineFile.toString())).startsWith("1:").contains("may only read");
        assertThat(cli("online", "web-viewer", "viewer1", "--admin", admin.toString(), "--token-file",
                secretFile.toString())).startsWith("0:");
        assertThat(cli("status", "--admin", admin.toString(), "--token-file", work.resolve("none").toString()))
                .startsWith("64:").contains("cannot read the token file");
    }

    @Test
    void aPageOfAnotherSiteOrARebindingNameChangesNothing() throws Exception {
        ApplianceNode node = start(new NodeOptions(LoopbackExample.write(work), "lb1", work.resolve("state"),
                new HostPort("127.0.0.1", 0)));
        HostPort admin = node.adminAddress();
        await().atMost(Duration.ofSeconds(15)).until(() -> "lb1".equals(node.status().vips().get(0).holder()));
        long revision = node.applied().revision();
        String host = admin.toString();
        String before = node.status().nodes().stream().filter(io.baton.appliance.admin.StatusReport.NodeStatus::self).findFirst().orElseThrow().role();

        // the requests: simple requests a browser sends cross-site without asking first
        for (String path : List.of("/api/v1/config/rollback", "/api/v1/cluster/failover")) {
            Answer answer = raw(admin, "POST " + path + " HTTP/1.1\r\nHost: evil\r\nOrigin: http://evil\r\n"
                    + "Content-Type: text/plain\r\nContent-Length: 14\r\n\r\n{\"revision\":1}");
            assertThat(status(answer)).as(path).isEqualTo(403);
            answer = raw(admin, "POST " + path + " HTTP/1.1\r\nHost: " + host + "\r\nOrigin: http://evil.example\r\n"
                    + "Content-Type: text/plain\r\nContent-Length: 14\r\n\r\n{\"revision\":1}");
            assertThat(status(answer)).as(path + " from a foreign Origin").isEqualTo(403);
            answer = raw(admin, "POST " + path + " HTTP/1.1\r\nHost: " + host + "\r\nSec-Fetch-Site: cross-site\r\n"
                    + "Content-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"revision\":1}");
            assertThat(status(answer)).as(path + " marked cross-site").isEqualTo(403);
            answer = raw(admin, "POST " + path + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: text/plain\r\n"
                    + "Content-Length: 14\r\n\r\n{\"revision\":1}");
            assertThat(status(answer)).as(path + " as text/plain").isEqualTo(415);
        }
        // a form post, and a rebinding page reading the config under its own name
        assertThat(status(raw(admin, "PUT /api/v1/services/web-viewer/servers/viewer1/state HTTP/1.1\r\nHost: " + host
                + "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 11\r\n\r\nstate=drain")))
                .isEqualTo(415);
        Answer rebinding = raw(admin, "GET /api/v1/config HTTP/1.1\r\nHost: attacker.example:" + admin.port()
                + "\r\n\r\n");
        assertThat(status(rebinding)).isEqualTo(403);
        assertThat(rebinding.text()).doesNotContain("web-viewer");

        assertThat(node.applied().revision()).isEqualTo(revision);
        assertThat(node.status().nodes().stream().filter(io.baton.appliance.admin.StatusReport.NodeStatus::self).findFirst().orElseThrow().role())
                .isEqualTo(before);
        assertThat(serverState(admin, null)).isEqualTo("online");
        // the node's own page may
        assertThat(status(raw(admin, "PUT /api/v1/services/web-viewer/servers/viewer1/state HTTP/1.1\r\nHost: " + host
                + "\r\nOrigin: http://" + host + "\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n"
                + "{\"state\":\"drain\"}"))).isEqualTo(200);
    }

    @Test
    void slowClientsAndAFailoverInProgressLeaveHealthzAnswering() throws Exception {
        LoopbackPair pair = LoopbackPair.start(work);
        open.add(pair);
        HostPort admin = pair.one.adminAddress();
        List<Socket> slow = new ArrayList<>();
        try {
            for (int i = 0; i < 200; i++) {
                Socket socket = new Socket();
                socket.connect(new InetSocketAddress(admin.host(), admin.port()), 2000);
                // half a head, and then nothing
                socket.getOutputStream().write(("PUT /api/v1/config HTTP/1.1\r\nHost: " + admin + "\r\nContent-Type: "
                        + "application/json\r\nContent-Length: 1000\r\n\r\n{").getBytes(StandardCharsets.US_ASCII));
                slow.add(socket);
            }
            CompletableFuture<Answer> failover = CompletableFuture.supplyAsync(() -> {
                try {
                    return http(admin, "POST", "/api/v1/cluster/failover", "application/json", "{}", null);
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            });
            for (int i = 0; i < 20; i++) {
                assertThat(status(http(admin, "GET", "/healthz", null, null, null))).isEqualTo(200);
                assertThat(status(http(admin, "GET", "/metrics", null, null, null))).isEqualTo(200);
            }
            assertThat(status(failover.get())).isEqualTo(200);
            await().atMost(Duration.ofSeconds(10)).until(() -> "n2".equals(pair.two.status().vips().get(0).holder()));
            // a slow client's request is cut at its deadline, with a 408 (read from one of them)
            Socket first = slow.get(0);
            first.setSoTimeout(20_000);
            String late = new String(first.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
            assertThat(late).startsWith("HTTP/1.1 408");
        } finally {
            for (Socket socket : slow) {
                socket.close();
            }
        }
    }

    private ApplianceNode start(NodeOptions options) throws NodeStartException {
        ApplianceNode node = ApplianceNode.start(options);
        open.add(node);
        return node;
    }

    private String serverState(HostPort admin, String authorization) throws IOException {
        JsonNode status = JSON.readTree(body(http(admin, "GET", "/api/v1/status", null, null, authorization)));
        for (JsonNode service : status.path("services")) {
            for (JsonNode server : service.path("servers")) {
                if (service.path("name").asText().equals("web-viewer") && server.path("name").asText().equals("viewer1")) {
                    return server.path("state").asText();
                }
            }
        }
        throw new AssertionError("no viewer1 in " + status);
    }

    private static String secret(String line) {
        return line.split(" ")[2];
    }

    private static String bearer(String secret) {
        return "Bearer " + secret;
    }

    private record Answer(String text) {
    }

    private static int status(Answer answer) {
        assertThat(answer.text()).startsWith("HTTP/1.1 ");
        return Integer.parseInt(answer.text().substring(9, 12));
    }

    private static String body(Answer answer) {
        return answer.text().substring(answer.text().indexOf("\r\n\r\n") + 4);
    }

    private static Answer http(HostPort admin, String method, String path, String contentType, String body,
                               String authorization) throws IOException {
        StringBuilder request = new StringBuilder(method + " " + path + " HTTP/1.1\r\nHost: " + admin + "\r\n"
                + "Connection: close\r\n");
        if (authorization != null) {
            request.append("Authorization: ").append(authorization).append("\r\n");
        }
        if (contentType != null) {
            request.append("Content-Type: ").append(contentType).append("\r\n");
        }
        byte[] bytes = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
        request.append("Content-Length: ").append(bytes.length).append("\r\n\r\n");
        return raw(admin, request + (body == null ? "" : body));
    }

    /** One request as written, and everything the node answers until it closes (or 10 s). */
    private static Answer raw(HostPort admin, String request) throws IOException {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(admin.host(), admin.port()), 2000);
            socket.setSoTimeout(10_000);
            String text = request.contains("Connection: close") ? request
                    : request.replaceFirst("\r\n", "\r\nConnection: close\r\n");
            socket.getOutputStream().write(text.getBytes(StandardCharsets.UTF_8));
            InputStream in = socket.getInputStream();
            return new Answer(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
    }

    /** Runs the CLI; "EXIT:" followed by what it printed on stdout and stderr. */
    private static String cli(String... args) {
        return TestCli.run(args);
    }
}
