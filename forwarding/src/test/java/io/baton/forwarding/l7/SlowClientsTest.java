package io.baton.forwarding.l7;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Slowloris and slow-body clients stay at the proxy: hundreds of them dribble a request head or
 * body (one byte each, round after round) while a well-behaved client is answered every time by
 * a backend of four worker threads, and the backend never has more connections open than the
 * well-behaved traffic needs.
 */
@org.junit.jupiter.api.extension.ExtendWith(NettyLeakCheck.class)
class SlowClientsTest {

    private static final int SLOW_HEADS = 200;
    private static final int SLOW_BODIES = 100;

    private final List<Socket> slow = new ArrayList<>();
    private LoggingBackend backend;
    private L7Engine engine;
    private int port;

    @BeforeEach
    void start() throws Exception {
        backend = new LoggingBackend(4); // a small worker pool: four slow clients that reached it would starve it
        port = TestServers.freePort();
        engine = TestServers.httpEngine(port, "timeouts: { http-request: 30s }",
                "[{ name: logger, address: 127.0.0.1:" + backend.port() + " }]");
    }

    @AfterEach
    void stop() throws Exception {
        for (Socket socket : slow) {
            socket.close();
        }
        engine.close();
        backend.close();
    }

    @Test
    void dribblingClientsHoldNoServerConnectionAndAWellBehavedClientIsAlwaysAnswered() throws Exception {
        List<byte[]> pending = new ArrayList<>();
        for (int i = 0; i < SLOW_HEADS + SLOW_BODIES; i++) {
            Socket socket = new Socket();
            socket.connect(new InetSocketAddress("127.0.0.1", port), 2000);
            slow.add(socket);
            String request = i < SLOW_HEADS
                    ? "GET /slow-head HTTP/1.1\r\nHost: a\r\nX-Padding: " + "p".repeat(200) + "\r\n\r\n"
                    : "POST /slow-body HTTP/1.1\r\nHost: a\r\nContent-Length: 2000\r\n\r\n" + "b".repeat(2000);
            byte[] bytes = request.getBytes(StandardCharsets.US_ASCII);
            int headEnd = request.indexOf("\r\n\r\n") + 4;
            // slow bodies send their head at once: only the body dribbles
            int sent = i < SLOW_HEADS ? 0 : headEnd;
            socket.getOutputStream().write(bytes, 0, sent);
            pending.add(java.util.Arrays.copyOfRange(bytes, sent, bytes.length - 1)); // never the last byte
        }
        int answered = 0;
        long end = System.nanoTime() + Duration.ofSeconds(4).toNanos();
        int round = 0;
        while (System.nanoTime() < end) {
            for (int i = 0; i < slow.size(); i++) {
                byte[] rest = pending.get(i);
                if (round < rest.length) {
                    slow.get(i).getOutputStream().write(rest[round]);
                }
            }
            round++;
            RawHttp.Response response = RawHttp.get(port, "/good");
            assertThat(response.status()).as("the well-behaved client's answer in round %d", round).isEqualTo(200);
            answered++;
        }

        assertThat(answered).isGreaterThan(10);
        assertThat(backend.seen()).as("requests the backend read").allMatch(seen -> seen.target().equals("/good"));
        assertThat(backend.mostOpen()).as("connections the backend had open at once").isLessThanOrEqualTo(2);
    }
}
