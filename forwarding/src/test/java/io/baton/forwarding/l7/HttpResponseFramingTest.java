package io.baton.forwarding.l7;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The response direction of the HTTP front end: a server whose answer is framed invalidly or
 * ambiguously gets its client a 502 (or, once the head has gone out, a connection that ends
 * without a clean end of body), never the bytes a second reading could take for another response.
 */
class HttpResponseFramingTest {

    private static final String HEAD = "HTTP/1.1 200 OK\r\n";

    record Answer(String name, String bytes) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Answer> refusedHeads() {
        return Stream.of(
                new Answer("Content-Length and Transfer-Encoding", HEAD + "Content-Length: 5\r\n"
                        + "Transfer-Encoding: chunked\r\n\r\n8\r\nsmuggled\r\n0\r\n\r\n"),
                new Answer("two Content-Lengths", HEAD + "Content-Length: 5\r\nContent-Length: 13\r\n\r\n"
                        + "hello smuggled"),
                new Answer("a Content-Length list", HEAD + "Content-Length: 5, 13\r\n\r\nhello smuggled"),
                new Answer("a negative Content-Length", HEAD + "Content-Length: -5\r\n\r\nsmuggled"),
                new Answer("a signed Content-Length", HEAD + "Content-Length: +8\r\n\r\nsmuggled"),
                new Answer("a hexadecimal Content-Length", HEAD + "Content-Length: 0x8\r\n\r\nsmuggled"),
                new Answer("a coding other than chunked", HEAD + "Transfer-Encoding: gzip\r\n\r\nsmuggled"),
                new Answer("chunked not last", HEAD + "Transfer-Encoding: chunked, gzip\r\n\r\n8\r\nsmuggled\r\n"
                        + "0\r\n\r\n"),
                new Answer("Transfer-Encoding in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "8\r\nsmuggled\r\n0\r\n\r\n"),
                new Answer("HTTP/2.0", "HTTP/2.0 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled"),
                new Answer("HTTP/1.2", "HTTP/1.2 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled"),
                new Answer("a control character in a field", HEAD + "X-A: a\u0001b\r\nContent-Length: 8\r\n\r\n"
                        + "smuggled"),
                new Answer("a NUL in a field", HEAD + "X-A: a\u0000b\r\nContent-Length: 8\r\n\r\nsmuggled"),
                new Answer("a status that is no number", "HTTP/1.1 2x0 OK\r\nContent-Length: 8\r\n\r\nsmuggled"),
                new Answer("no status line", "smuggled\r\n\r\n"),
                new Answer("a bare LF", HEAD + "Content-Length: 8\nX-A: b\r\n\r\nsmuggled"));
    }

    private static CannedServer server;
    private static L7Engine engine;
    private static int port;

    @BeforeAll
    static void start() throws Exception {
        server = new CannedServer();
        port = TestServers.freePort();
        engine = TestServers.httpEngine(port, "", "[{ name: canned, address: 127.0.0.1:" + server.port() + " }]");
    }

    @AfterAll
    static void stop() throws Exception {
        engine.close();
        server.close();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refusedHeads")
    void aResponseFramedInvalidlyIs502AndNoneOfItReachesTheClient(Answer answer) throws Exception {
        server.answer(answer.bytes());

        String seen = exchange("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");

        assertThat(seen).as("what the client read").startsWith("HTTP/1.1 502 ").doesNotContain("smuggled");
    }

    @Test
    void aMalformedChunkAfterTheHeadEndsTheClientsConnectionWithoutACleanEnd() throws Exception {
        server.answer(HEAD + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nsmuggled\r\n0\r\n\r\n");

        String seen = exchange("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");

        assertThat(seen).as("what the client read").doesNotContain("smuggled").doesNotEndWith("0\r\n\r\n");
    }

    /**
     * Bytes a server sends after its answer's end (a second response nobody asked for) never
     * become the answer to the client's next request on the same connection.
     */
    @Test
    void aResponseNobodyAskedForIsNeverTheAnswerToTheNextRequest() throws Exception {
        server.answer(HEAD + "Content-Length: 5\r\n\r\nhello" + HEAD + "Content-Length: 8\r\n\r\nsmuggled");

        try (Socket client = connect()) {
            for (String connection : List.of("keep-alive", "keep-alive", "close")) {
                client.getOutputStream().write(("GET / HTTP/1.1\r\nHost: a\r\nConnection: " + connection
                        + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
                String answer = readOne(client.getInputStream());
                assertThat(answer).as("the answer to a request").doesNotContain("smuggled")
                        .matches("(?s)HTTP/1\\.1 (200 .*hello|502 .*)");
            }
        }
    }

    private static Socket connect() throws IOException {
        Socket client = new Socket();
        client.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        client.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        client.setSoTimeout(15_000);
        return client;
    }

    /** Sends a request and reads until the proxy closes (or resets) the connection. */
    private static String exchange(String request) throws IOException {
        try (Socket client = connect()) {
            client.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            byte[] buffer = new byte[8192];
            try {
                for (int n; (n = client.getInputStream().read(buffer)) >= 0; ) {
                    all.write(buffer, 0, n);
                }
            } catch (SocketException reset) {
                // a reset ends the answer as a close does
            }
            return all.toString(StandardCharsets.ISO_8859_1);
        }
    }

    /** One response with a Content-Length body, read without waiting for the connection to close. */
    private static String readOne(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                return head.toString();
            }
            head.append((char) b);
        }
        int length = 0;
        for (String line : head.toString().split("\r\n")) {
            if (line.regionMatches(true, 0, "content-length:", 0, 15)) {
                length = Integer.parseInt(line.substring(15).trim());
            }
        }
        return head + new String(in.readNBytes(length), StandardCharsets.ISO_8859_1);
    }

    /** Answers every request head it reads with the bytes set last, and keeps the connection open. */
    private static final class CannedServer implements AutoCloseable {
        private final ServerSocket socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        private final AtomicReference<String> answer = new AtomicReference<>("");
        private final Thread acceptor = new Thread(this::accept, "canned-server");

        CannedServer() throws IOException {
            acceptor.setDaemon(true);
            acceptor.start();
        }

        int port() {
            return socket.getLocalPort();
        }

        void answer(String bytes) {
            answer.set(bytes);
        }

        private void accept() {
            while (!socket.isClosed()) {
                try {
                    Socket connection = socket.accept();
                    Thread serving = new Thread(() -> serve(connection), "canned-connection");
                    serving.setDaemon(true);
                    serving.start();
                } catch (IOException e) {
                    return;
                }
            }
        }

        private void serve(Socket connection) {
            try (connection) {
                connection.setSoTimeout(20_000);
                InputStream in = connection.getInputStream();
                StringBuilder head = new StringBuilder();
                for (int b; (b = in.read()) >= 0; ) {
                    head.append((char) b);
                    if (head.toString().endsWith("\r\n\r\n")) {
                        connection.getOutputStream().write(answer.get().getBytes(StandardCharsets.ISO_8859_1));
                        head.setLength(0);
                    }
                }
            } catch (IOException e) {
                // the proxy closed it
            }
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
