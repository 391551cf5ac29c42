package io.baton.appliance;

import io.baton.cluster.wire.ClusterKeys;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A pair in one process on loopback with a source-ip persistent service: clients pinned on the
 * active node are pinned on the passive one too, and reach the same servers after a failover.
 */
class PersistenceReplicationTest {

    private static final int CLIENTS = 20;

    @TempDir
    Path work;

    private ApplianceNode one;
    private ApplianceNode two;
    private TestBackend first;
    private TestBackend second;

    @AfterEach
    void stop() {
        for (AutoCloseable closeable : new AutoCloseable[] {two, one, first, second}) {
            try {
                if (closeable != null) {
                    closeable.close();
                }
            } catch (Exception ignored) {
                // cleanup
            }
        }
    }

    @Test
    void clientsPinnedBeforeAFailoverReachTheSameServersAfterIt() throws Exception {
        first = new TestBackend("rs1");
        second = new TestBackend("rs2");
        int port = TestHttp.freePort();
        Path key = work.resolve("cluster.key");
        ClusterKeys.generate(key);
        Path config = work.resolve("baton.yaml");
        Files.writeString(config, """
                cluster:
                  name: pinned-%d
                  key-file: %s
                  nodes:
                    - { id: n1, address: 127.0.0.1:%d, priority: 200 }
                    - { id: n2, address: 127.0.0.1:%d, priority: 100 }
                vips: [{ name: front, address: 127.0.0.102/32, interface: lo }]
                services:
                  - name: hl7-web
                    vip: front
                    ports: [%d]
                    mode: l7-snat
                    l7: http
                    scheduler: rr
                    persistence: { type: source-ip, timeout: 30m, netmask: 32 }
                    servers:
                      - { name: rs1, address: 127.0.0.1:%d }
                      - { name: rs2, address: 127.0.0.1:%d }
                """.formatted(port, key, TestHttp.freePort(), TestHttp.freePort(), port, first.port(),
                second.port()));
        one = ApplianceNode.start(new NodeOptions(config, "n1", work.resolve("n1"), new io.baton.config.HostPort(
                "127.0.0.1", 0)));
        await().atMost(Duration.ofSeconds(15)).until(() -> "n1".equals(one.status().vips().get(0).holder()));
        two = ApplianceNode.start(new NodeOptions(config, "n2", work.resolve("n2"), new io.baton.config.HostPort(
                "127.0.0.1", 0)));
        await().atMost(Duration.ofSeconds(15)).until(() -> two.status().nodes().stream()
                .allMatch(node -> node.role().equals("ACTIVE") || node.role().equals("PASSIVE")));

        Map<Integer, String> pinned = new HashMap<>();
        // pinned in the reverse order of the checks below: a fresh round robin on n2 would then give every
        // client the other server, so only a replicated table passes
        for (int client = CLIENTS; client >= 1; client--) {
            pinned.put(client, request(client, port));
        }
        assertThat(pinned.values()).as("round robin spread the clients").contains("rs1", "rs2");
        await().atMost(Duration.ofSeconds(5)).until(() -> two.persistence().size() == CLIENTS);

        assertThat(one.failover()).isEqualTo("n2");
        await().atMost(Duration.ofSeconds(10)).until(() -> "n2".equals(two.status().vips().get(0).holder()));

        for (int client = 1; client <= CLIENTS; client++) {
            assertThat(request(client, port)).as("client 127.0.1.%d after the failover", client)
                    .isEqualTo(pinned.get(client));
        }
    }

    /** One request from 127.0.1.{@code client} through the VIP; the name of the server that answered. */
    private static String request(int client, int port) throws IOException {
        try (Socket socket = new Socket()) {
            socket.bind(new InetSocketAddress("127.0.1." + client, 0));
            socket.connect(new InetSocketAddress("127.0.0.102", port), 2000);
            socket.setSoTimeout(5000);
            socket.getOutputStream().write(("GET / HTTP/1.1\r\nHost: viewer\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            InputStream in = socket.getInputStream();
            String response = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            assertThat(response).startsWith("HTTP/1.1 200");
            return response.substring(response.indexOf("\r\n\r\n") + 4).trim();
        }
    }
}
