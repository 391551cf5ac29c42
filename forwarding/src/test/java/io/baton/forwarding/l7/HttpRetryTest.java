package io.baton.forwarding.l7;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Which requests are sent again to the next server when a server closes before answering: only
 * safe methods without a body (RFC 9110 9.2.1); any other gets 502 and reached one server only.
 */
@org.junit.jupiter.api.extension.ExtendWith(NettyLeakCheck.class)
class HttpRetryTest {

    private final ExecutorService executor = Executors.newCachedThreadPool();
    private final List<ServerSocket> sockets = new CopyOnWriteArrayList<>();
    /** Every request line a server read before closing without an answer, "server method". */
    private final List<String> received = new CopyOnWriteArrayList<>();
    private L7Engine engine;
    private int port;

    @BeforeEach
    void start() throws Exception {
        int first = closer("one");
        int second = closer("two");
        port = TestServers.freePort();
        engine = TestServers.httpEngine(port, "scheduler: rr", "[{ name: one, address: 127.0.0.1:" + first
                + " }, { name: two, address: 127.0.0.1:" + second + " }]");
    }

    @AfterEach
    void stop() throws Exception {
        engine.close();
        for (ServerSocket socket : sockets) {
            socket.close();
        }
        executor.shutdownNow();
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"GET,'',2", "HEAD,'',2", "OPTIONS,'',2", "DELETE,'',1", "PUT,'',1", "POST,'',1", "PATCH,'',1",
            "GET,body,1"})
    void onlyASafeRequestWithoutABodyIsSentToASecondServer(String method, String body, int servers) throws Exception {
        String request = method + " /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
                + (body.isEmpty() ? "" : "Content-Length: " + body.length() + "\r\n") + "\r\n" + body;

        RawHttp.Response response = RawHttp.send(port, "127.0.0.1", request);

        assertThat(response.status()).isEqualTo(502);
        assertThat(received).as("servers that received the %s", method).hasSize(servers)
                .allMatch(line -> line.endsWith(" " + method));
    }

    /** A server that reads a request head and closes without answering. */
    private int closer(String name) throws IOException {
        ServerSocket socket = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
        sockets.add(socket);
        executor.submit(() -> {
            while (!socket.isClosed()) {
                try (Socket connection = socket.accept()) {
                    InputStream in = connection.getInputStream();
                    StringBuilder line = new StringBuilder();
                    int b;
                    while ((b = in.read()) >= 0 && b != ' ') {
                        line.append((char) b);
                    }
                    received.add(name + " " + line);
                } catch (IOException e) {
                    return;
                }
            }
        });
        return socket.getLocalPort();
    }
}
