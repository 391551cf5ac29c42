package io.baton.forwarding.l7;

import io.baton.forwarding.ServicePool;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The limits of an {@code l7-snat} service against a real server that holds every request until
 * the test lets it answer: it never has more requests at once than its maximum, the queue takes
 * what fits and serves it as slots free, what does not fit is answered 503 at once, a wait past
 * the queue timeout is 503, and clients beyond the service's or the node's maximum are refused.
 */
class LimitsTest {

    private final List<AutoCloseable> resources = new ArrayList<>();
    private final ExecutorService clients = Executors.newCachedThreadPool();
    private int port;

    @AfterEach
    void close() throws Exception {
        clients.shutdownNow();
        for (int i = resources.size() - 1; i >= 0; i--) {
            resources.get(i).close();
        }
    }

    @Test
    void requestsBeyondTheServersMaximumQueueThoseBeyondTheQueueGet503AndTheServerNeverSeesMore() throws Exception {
        HoldingServer server = holdingServer();
        L7Engine engine = engine("http", "limits: { server-max-connections: 2, queue: 3, queue-timeout: 30s }", server);
        ServicePool pool = engine.pool("web").orElseThrow();

        List<CompletableFuture<Integer>> answers = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            answers.add(CompletableFuture.supplyAsync(() -> status("GET /" + " HTTP/1.1\r\nHost: a\r\n\r\n"), clients));
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> server.inFlight.get() == 2 && pool.waiting() == 3
                && answers.stream().filter(CompletableFuture::isDone).count() == 5);
        assertThat(answers.stream().filter(CompletableFuture::isDone).map(CompletableFuture::join))
                .as("beyond the queue: refused at once").containsOnly(503);
        assertThat(pool.queueFullTotal()).isEqualTo(5);

        server.answerAll();
        for (CompletableFuture<Integer> answer : answers) {
            answer.get(10, TimeUnit.SECONDS);
        }
        assertThat(answers.stream().map(CompletableFuture::join).filter(code -> code == 200)).hasSize(5);
        assertThat(server.mostAtOnce.get()).as("requests the server had at once").isEqualTo(2);
        assertThat(pool.queuedTotal()).isEqualTo(3);
        // the slot goes back just after the answer is flushed, which the client may see first
        await().atMost(Duration.ofSeconds(5)).until(() -> pool.backends().get(0).activeConnections() == 0);
    }

    @Test
    void aWaitPastTheQueueTimeoutIs503AndTheSlotGoesToNobodyStale() throws Exception {
        HoldingServer server = holdingServer();
        L7Engine engine = engine("http", "limits: { server-max-connections: 1, queue: 5, queue-timeout: 300ms }",
                server);
        ServicePool pool = engine.pool("web").orElseThrow();

        CompletableFuture<Integer> held = CompletableFuture.supplyAsync(() -> status("GET /held HTTP/1.1\r\nHost: a\r\n\r\n"), clients);
        await().until(() -> server.inFlight.get() == 1);
        assertThat(status("GET /waits HTTP/1.1\r\nHost: a\r\n\r\n")).isEqualTo(503);
        assertThat(pool.queueTimeoutsTotal()).isEqualTo(1);
        assertThat(pool.waiting()).isZero();

        server.answerAll();
        assertThat(held.get(10, TimeUnit.SECONDS)).isEqualTo(200);
        assertThat(status("GET /after HTTP/1.1\r\nHost: a\r\n\r\n")).as("the slot came back").isEqualTo(200);
    }

    @Test
    void aClientThatLeavesTheQueuePassesItsTurnOn() throws Exception {
        HoldingServer server = holdingServer();
        L7Engine engine = engine("http", "limits: { server-max-connections: 1, queue: 5, queue-timeout: 30s }", server);
        ServicePool pool = engine.pool("web").orElseThrow();

        CompletableFuture<Integer> held = CompletableFuture.supplyAsync(() -> status("GET /held HTTP/1.1\r\nHost: a\r\n\r\n"), clients);
        await().until(() -> server.inFlight.get() == 1);
        Socket leaver = new Socket(InetAddress.getLoopbackAddress(), port);
        leaver.getOutputStream().write("GET /leaves HTTP/1.1\r\nHost: a\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        await().until(() -> pool.waiting() == 1);
        CompletableFuture<Integer> patient = CompletableFuture.supplyAsync(() -> status("GET /patient HTTP/1.1\r\nHost: a\r\n\r\n"), clients);
        await().until(() -> pool.waiting() == 2);
        leaver.close();
        await().until(() -> pool.waiting() == 1);

        server.answerAll();
        assertThat(held.get(10, TimeUnit.SECONDS)).isEqualTo(200);
        assertThat(patient.get(10, TimeUnit.SECONDS)).isEqualTo(200);
        assertThat(server.paths).containsExactly("/held", "/patient");
    }

    @Test
    void clientsBeyondTheServicesOrTheNodesMaximumAreRefusedAndTheRestServed() throws Exception {
        HoldingServer server = holdingServer();
        server.answerAll();
        L7Engine engine = engine("http", "limits: { max-connections: 3 }", server);
        ServicePool pool = engine.pool("web").orElseThrow();
        List<Socket> open = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Socket idle = new Socket(InetAddress.getLoopbackAddress(), port);
            resources.add(idle);
            open.add(idle);
        }
        await().until(() -> pool.clients() == 3);
        assertThat(status("GET / HTTP/1.1\r\nHost: a\r\n\r\n")).isEqualTo(503);
        assertThat(pool.refusedClients()).isEqualTo(1);
        open.get(0).close();
        await().until(() -> pool.clients() == 2);
        assertThat(status("GET / HTTP/1.1\r\nHost: a\r\n\r\n")).isEqualTo(200);

        L7Engine node = engine("http", "", server, "max-connections: 2");
        for (int i = 0; i < 2; i++) {
            resources.add(new Socket(InetAddress.getLoopbackAddress(), port));
        }
        await().until(() -> node.clientsOpen() == 2);
        assertThat(status("GET / HTTP/1.1\r\nHost: a\r\n\r\n")).isEqualTo(503);
        assertThat(node.refusedClients()).isEqualTo(1);
    }

    @Test
    void tcpConnectionsBeyondTheServersMaximumWaitAndThoseBeyondTheQueueAreClosed() throws Exception {
        HoldingServer server = holdingServer();
        L7Engine engine = engine("tcp", "limits: { server-max-connections: 1, queue: 1, queue-timeout: 30s }", server);
        ServicePool pool = engine.pool("web").orElseThrow();

        CompletableFuture<Integer> first = CompletableFuture.supplyAsync(() -> status("GET /first HTTP/1.1\r\nHost: a\r\n\r\n"), clients);
        await().until(() -> server.inFlight.get() == 1);
        CompletableFuture<Integer> second = CompletableFuture.supplyAsync(() -> status("GET /second HTTP/1.1\r\nHost: a\r\n\r\n"), clients);
        await().until(() -> pool.waiting() == 1);
        assertThat(status("GET /third HTTP/1.1\r\nHost: a\r\n\r\n")).as("closed without an answer").isEqualTo(-1);

        server.answerAll();
        assertThat(first.get(10, TimeUnit.SECONDS)).isEqualTo(200);
        assertThat(second.get(10, TimeUnit.SECONDS)).isEqualTo(200);
        assertThat(server.mostAtOnce.get()).isEqualTo(1);
    }

    private L7Engine engine(String l7, String serviceKeys, HoldingServer server, String... top) throws Exception {
        port = TestServers.freePort();
        L7Engine engine = TestServers.engine(port, l7, String.join("\n", top), serviceKeys,
                "[{ name: held, address: 127.0.0.1:" + server.port() + " }]");
        resources.add(engine);
        return engine;
    }

    private HoldingServer holdingServer() throws IOException {
        HoldingServer server = new HoldingServer();
        resources.add(server);
        return server;
    }

    /** The status code of the answer to {@code request} on a new connection, or -1 when closed without one. */
    private int status(String request) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 2000);
            socket.setSoTimeout(20_000);
            socket.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
            String line = readLine(socket.getInputStream());
            return line == null || line.length() < 12 ? -1 : Integer.parseInt(line.substring(9, 12));
        } catch (IOException e) {
            return -1;
        }
    }

    private static String readLine(InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        int next;
        while ((next = in.read()) != -1 && next != '\n') {
            line.append((char) next);
        }
        return next == -1 && line.isEmpty() ? null : line.toString().strip();
    }

    /**
     * A real server with a thread per connection that reads a request head and holds it until
     * {@link #answerAll}; it counts the requests it holds at once. Each answer closes its
     * connection, so that connections and requests are the same count.
     */
    static final class HoldingServer implements AutoCloseable {
        final AtomicInteger inFlight = new AtomicInteger();
        final AtomicInteger mostAtOnce = new AtomicInteger();
        final List<String> paths = new java.util.concurrent.CopyOnWriteArrayList<>();
        private final CountDownLatch answer = new CountDownLatch(1);
        private final ServerSocket socket = new ServerSocket(0, 100, InetAddress.getLoopbackAddress());
        private final ExecutorService threads = Executors.newCachedThreadPool();

        HoldingServer() throws IOException {
            threads.submit(() -> {
                while (!socket.isClosed()) {
                    Socket connection;
                    try {
                        connection = socket.accept();
                    } catch (IOException closed) {
                        return;
                    }
                    threads.submit(() -> serve(connection));
                }
            });
        }

        int port() {
            return socket.getLocalPort();
        }

        void answerAll() {
            answer.countDown();
        }

        private void serve(Socket connection) {
            try (connection) {
                InputStream in = connection.getInputStream();
                String requestLine = readLine(in);
                if (requestLine == null) {
                    return;
                }
                for (String line = readLine(in); line != null && !line.isEmpty(); line = readLine(in)) {
                    // the rest of the head
                }
                paths.add(requestLine.split(" ")[1]);
                mostAtOnce.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
                try {
                    answer.await(30, TimeUnit.SECONDS);
                } finally {
                    inFlight.decrementAndGet();
                }
                OutputStream out = connection.getOutputStream();
                out.write("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
                        .getBytes(StandardCharsets.US_ASCII));
                out.flush();
            } catch (IOException | InterruptedException e) {
                // the test ends
            }
        }

        @Override
        public void close() throws IOException {
            socket.close();
            threads.shutdownNow();
        }
    }
}
