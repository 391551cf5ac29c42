package io.baton.appliance;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.baton.appliance.admin.StatusReport;
import io.baton.cluster.wire.ClusterKeys;
import io.baton.config.HostPort;
import io.baton.health.HealthState;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
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
 * The active node's runtime state reaches the passive one: clients pinned on the active node reach
 * the same servers after a failover, and a server the active node found DOWN gets nothing from the
 * new active node, even before that node's own checks have concluded.
 */
class StateReplicationTest {

    private static final int CLIENTS = 20;

    @TempDir
    Path work;

    @Test
    void clientsPinnedBeforeAFailoverReachTheSameServersAfterIt() throws Exception {
        try (LoopbackPair pair = LoopbackPair.start(work)) {
            Map<Integer, String> pinned = new HashMap<>();
            // pinned in the reverse order of the checks below: a fresh round robin on n2 would then give every
            // client the other server, so only a replicated table passes
            for (int client = CLIENTS; client >= 1; client--) {
                pinned.put(client, pair.request("127.0.1." + client));
            }
            assertThat(pinned.values()).as("round robin spread the clients").contains("rs1", "rs2");
            await().atMost(Duration.ofSeconds(5)).until(() -> pair.two.persistence().size() == CLIENTS);

            assertThat(pair.one.failover()).isEqualTo("n2");
            await().atMost(Duration.ofSeconds(10)).until(() -> "n2".equals(pair.two.status().vips().get(0).holder()));

            for (int client = 1; client <= CLIENTS; client++) {
                assertThat(pair.request("127.0.1." + client)).as("client 127.0.1.%d after the failover", client)
                        .isEqualTo(pinned.get(client));
            }
        }
    }

    @Test
    void aServerDownBeforeAFailoverGetsNoRequestFromTheNewActiveBeforeItsOwnChecksConclude() throws Exception {
        try (TestBackend healthy = new TestBackend("rs1")) {
            int blackHolePort = TestHttp.freePort(); // refuses at first: n1 finds rs2 DOWN at once
            int port = TestHttp.freePort();
            Path key = work.resolve("cluster.key");
            ClusterKeys.generate(key);
            Path config = Files.writeString(work.resolve("baton.yaml"), """
                    cluster:
                      name: verdicts-%d
                      key-file: %s
                      nodes:
                        - { id: n1, address: 127.0.0.1:%d, priority: 200 }
                        - { id: n2, address: 127.0.0.1:%d, priority: 100 }
                    vips: [{ name: front, address: 127.0.0.104/32, interface: lo }]
                    services:
                      - name: viewer
                        vip: front
                        ports: [%d]
                        mode: l7-snat
                        l7: http
                        scheduler: rr
                        check: { type: http, path: /, interval: 60s, timeout: 20s, rise: 1, fall: 1 }
                        servers:
                          - { name: rs1, address: 127.0.0.1:%d }
                          - { name: rs2, address: 127.0.0.1:%d }
                    """.formatted(port, key, TestHttp.freePort(), TestHttp.freePort(), port, healthy.port(),
                    blackHolePort));
            try (ApplianceNode one = ApplianceNode.start(new NodeOptions(config, "n1", work.resolve("n1"),
                    new HostPort("127.0.0.1", 0)))) {
                await().atMost(Duration.ofSeconds(15)).until(() -> health(one, "rs2").equals("down")
                        && health(one, "rs1").equals("up") && "n1".equals(one.status().vips().get(0).holder()));
                // from now on rs2 accepts and never answers: n2's own check of it waits out its 20 s timeout
                try (ServerSocket blackHole = new ServerSocket(blackHolePort, 50, InetAddress.getByName("127.0.0.1"));
                     ApplianceNode two = ApplianceNode.start(new NodeOptions(config, "n2", work.resolve("n2"),
                             new HostPort("127.0.0.1", 0)))) {
                    await().atMost(Duration.ofSeconds(10)).until(() -> health(two, "rs2").equals("down")
                            && health(two, "rs1").equals("up"));
                    assertThat(two.health().health("viewer", "rs2").orElseThrow().state())
                            .as("n2's own check of rs2 has not concluded").isEqualTo(HealthState.UNKNOWN);
                    assertThat(server(two, "rs2").lastCheck()).contains("the verdict of n1");

                    assertThat(one.failover()).isEqualTo("n2");
                    await().atMost(Duration.ofSeconds(10)).until(() -> "n2".equals(two.status().vips().get(0).holder()));

                    for (int client = 1; client <= 10; client++) {
                        assertThat(request("127.0.2." + client, port)).as("request %d after the failover", client)
                                .isEqualTo("rs1");
                    }
                    assertThat(two.health().health("viewer", "rs2").orElseThrow().state())
                            .as("still judged by n1's verdict alone").isEqualTo(HealthState.UNKNOWN);
                }
            }
        }
    }

    private static String health(ApplianceNode node, String server) {
        return server(node, server).health();
    }

    private static StatusReport.ServerStatus server(ApplianceNode node, String server) {
        return node.status().services().get(0).servers().stream().filter(s -> s.name().equals(server)).findFirst()
                .orElseThrow();
    }

    private static String request(String client, int port) throws Exception {
        try (Socket socket = new Socket()) {
            socket.bind(new InetSocketAddress(client, 0));
            socket.connect(new InetSocketAddress("127.0.0.104", port), 2000);
            socket.setSoTimeout(5000);
            socket.getOutputStream().write("GET / HTTP/1.1\r\nHost: viewer\r\nConnection: close\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            String response = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(response).startsWith("HTTP/1.1 200");
            return response.substring(response.indexOf("\r\n\r\n") + 4).trim();
        }
    }
}
