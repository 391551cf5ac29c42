package io.baton.forwarding.l7;

import io.baton.config.BatonConfig;
import io.baton.config.ConfigParser;
import io.baton.forwarding.PersistenceTable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The {@code l7-snat tcp} relay with real TCP servers on loopback. */
@ExtendWith(NettyLeakCheck.class)
class L7EngineTcpTest {

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private L7Engine engine;
    private int port;
    private TestServers.Tcp one;
    private TestServers.Tcp two;

    @BeforeEach
    void start() throws Exception {
        engine = new L7Engine(new PersistenceTable(Clock.systemUTC()), 2);
        one = new TestServers.Tcp("one");
        two = new TestServers.Tcp("two");
        closeables.add(one);
        closeables.add(two);
        port = TestServers.freePort();
    }

    @AfterEach
    void stop() throws Exception {
        engine.close();
        for (AutoCloseable closeable : closeables) {
            closeable.close();
        }
    }

    @Test
    void bytesAreRelayedBothWaysAndAHalfCloseIsPassedThrough() throws Exception {
        apply("scheduler: rr", 1, 1);
        try (Socket socket = new Socket("127.0.0.1", port)) {
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            OutputStream out = socket.getOutputStream();
            String greeting = in.readLine();
            assertThat(greeting).isIn("one", "two");
            out.write("hello through the VIP\n".getBytes(StandardCharsets.UTF_8));
            assertThat(in.readLine()).isEqualTo("hello through the VIP");

            socket.shutdownOutput();

            assertThat(in.readLine()).as("the server saw our EOF and could still answer").isEqualTo("bye");
            assertThat(in.readLine()).isNull();
        }
    }

    @Test
    void weightsSpreadConnections() throws Exception {
        apply("scheduler: wrr", 1, 3);

        assertThat(greetings(40)).containsEntry("one", 10).containsEntry("two", 30);
    }

    /**
     * Repeated: this test once hung at random. A listener closed while a thread is blocked in its
     * accept() is closed for real only when that thread leaves, and until then the kernel still
     * completes connections to it (checked on this JDK: 62 of 200 connects to such a "closed"
     * listener succeeded); the proxy's connect to "one" then succeeded, nothing redispatched, and
     * the client waited for a greeting for ever. {@link TestServers.Tcp#close} now returns only once
     * its accept thread has gone, and the client's read is bounded.
     */
    @org.junit.jupiter.api.RepeatedTest(20)
    void redispatchSkipsAServerThatRefuses() throws Exception {
        apply("scheduler: rr", 1, 1);
        one.close();

        assertThat(greetings(10)).containsOnlyKeys("two");
        assertThat(engine.pool("dicom").orElseThrow().backend("one").orElseThrow().errors()).isPositive();
    }

    @Test
    void liveReconfigurationKeepsEstablishedConnectionsOfUnchangedServices() throws Exception {
        apply("scheduler: rr", 1, 1);
        try (Socket socket = new Socket("127.0.0.1", port)) {
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            in.readLine();

            apply("scheduler: rr", 1, 5);

            socket.getOutputStream().write("still here\n".getBytes(StandardCharsets.UTF_8));
            assertThat(in.readLine()).isEqualTo("still here");
        }
    }

    @Test
    void countersFollowConnections() throws Exception {
        apply("balance: failover", 1, 1);
        try (Socket socket = new Socket("127.0.0.1", port)) {
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            in.readLine();
            var backend = engine.pool("dicom").orElseThrow().backend("one").orElseThrow();
            await().until(() -> backend.activeConnections() == 1);
            socket.getOutputStream().write("12345\n".getBytes(StandardCharsets.UTF_8));
            in.readLine();
            assertThat(backend.bytesIn()).isEqualTo(6);
        }
        var backend = engine.pool("dicom").orElseThrow().backend("one").orElseThrow();
        await().until(() -> backend.activeConnections() == 0);
        assertThat(backend.totalConnections()).isEqualTo(1);
    }

    private Map<String, Integer> greetings(int connections) throws Exception {
        Map<String, Integer> seen = new HashMap<>();
        for (int i = 0; i < connections; i++) {
            try (Socket socket = new Socket("127.0.0.1", port)) {
                socket.setSoTimeout(10_000); // a lost greeting fails the test instead of hanging the build
                BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(),
                        StandardCharsets.UTF_8));
                seen.merge(in.readLine(), 1, Integer::sum);
            }
        }
        return seen;
    }

    private void apply(String extra, int weightOne, int weightTwo) throws Exception {
        String yaml = """
                cluster: { name: t, nodes: [{ id: n1, address: 127.0.0.1:7800 }] }
                vips: [{ name: v, address: 127.0.0.1/32, interface: lo }]
                services:
                  - name: dicom
                    vip: v
                    ports: [%d]
                    mode: l7-snat
                    l7: tcp
                    %s
                    servers:
                      - { name: one, address: 127.0.0.1:%d, weight: %d }
                      - { name: two, address: 127.0.0.1:%d, weight: %d }
                """.formatted(port, extra, one.port(), weightOne, two.port(), weightTwo);
        BatonConfig config = ConfigParser.parse(yaml, ConfigParser.Format.YAML);
        assertThat(engine.apply(config)).isEmpty();
    }
}
