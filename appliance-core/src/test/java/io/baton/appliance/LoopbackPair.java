package io.baton.appliance;

import io.baton.cluster.wire.ClusterKeys;
import io.baton.config.HostPort;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.awaitility.Awaitility.await;

/**
 * Two appliance nodes in this JVM on loopback (n1 active, n2 passive), a VIP 127.0.0.102 with one
 * l7 http service over two real servers that answer their names, source-ip persistence.
 */
final class LoopbackPair implements AutoCloseable {

    static final String VIP = "127.0.0.102";

    final ApplianceNode one;
    final ApplianceNode two;
    final int port;
    final HostPort clusterOne;
    final HostPort clusterTwo;
    private final TestBackend first;
    private final TestBackend second;

    private LoopbackPair(ApplianceNode one, ApplianceNode two, int port, HostPort clusterOne, HostPort clusterTwo,
                         TestBackend first, TestBackend second) {
        this.one = one;
        this.two = two;
        this.port = port;
        this.clusterOne = clusterOne;
        this.clusterTwo = clusterTwo;
        this.first = first;
        this.second = second;
    }

    static LoopbackPair start(Path work) throws Exception {
        TestBackend first = new TestBackend("rs1");
        TestBackend second = new TestBackend("rs2");
        int port = TestHttp.freePort();
        HostPort clusterOne = new HostPort("127.0.0.1", TestHttp.freePort());
        HostPort clusterTwo = new HostPort("127.0.0.1", TestHttp.freePort());
        Path key = work.resolve("cluster.key");
        ClusterKeys.generate(key);
        Path config = work.resolve("baton.yaml");
        Files.writeString(config, """
                cluster:
                  name: pair-%d
                  key-file: %s
                  nodes:
                    - { id: n1, address: %s, priority: 200 }
                    - { id: n2, address: %s, priority: 100 }
                vips: [{ name: front, address: %s/32, interface: lo }]
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
                """.formatted(port, key, clusterOne, clusterTwo, VIP, port, first.port(), second.port()));
        ApplianceNode one = ApplianceNode.start(new NodeOptions(config, "n1", work.resolve("n1"),
                new HostPort("127.0.0.1", 0)));
        await().atMost(Duration.ofSeconds(15)).until(() -> "n1".equals(one.status().vips().get(0).holder()));
        ApplianceNode two = ApplianceNode.start(new NodeOptions(config, "n2", work.resolve("n2"),
                new HostPort("127.0.0.1", 0)));
        await().atMost(Duration.ofSeconds(15)).until(() -> two.status().nodes().stream()
                .allMatch(node -> node.role().equals("ACTIVE") || node.role().equals("PASSIVE")));
        return new LoopbackPair(one, two, port, clusterOne, clusterTwo, first, second);
    }

    /** One request from {@code client} (a loopback address) through the VIP; the body (the server's name). */
    String request(String client) throws IOException {
        try (Socket socket = new Socket()) {
            socket.bind(new InetSocketAddress(client, 0));
            socket.connect(new InetSocketAddress(VIP, port), 2000);
            socket.setSoTimeout(5000);
            socket.getOutputStream().write(("GET / HTTP/1.1\r\nHost: viewer\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            InputStream in = socket.getInputStream();
            String response = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            if (!response.startsWith("HTTP/1.1 200")) {
                throw new IOException("not a 200 through the VIP: " + response);
            }
            return response.substring(response.indexOf("\r\n\r\n") + 4).trim();
        }
    }

    @Override
    public void close() {
        two.close();
        one.close();
        first.close();
        second.close();
    }
}
