package io.baton.forwarding.l7;

import io.baton.config.BatonConfig;
import io.baton.config.ConfigParser;
import io.baton.forwarding.Backend;
import io.baton.forwarding.Health;
import io.baton.forwarding.PersistenceTable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The {@code l7-snat http} proxy with real HTTP servers and real sockets on loopback. */
@ExtendWith(NettyLeakCheck.class)
class L7EngineHttpTest {

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private L7Engine engine;
    private int port;
    private TestServers.Http web1;
    private TestServers.Http web2;

    @BeforeEach
    void start() throws Exception {
        engine = new L7Engine(new PersistenceTable(Clock.systemUTC()), 2);
        web1 = server("web1");
        web2 = server("web2");
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
    void weightedRoundRobinSpreadsRequestsByWeightAndAddsForwardingHeaders() throws Exception {
        apply("scheduler: wrr", "weight: 1", "weight: 3");

        Map<String, Integer> seen = countBackends(40, "127.0.0.1");

        assertThat(seen).containsEntry("web1", 10).containsEntry("web2", 30);
        RawHttp.Response response = RawHttp.get(port, "/", "127.0.0.7", "X-Forwarded-For: 192.0.2.9\r\n");
        assertThat(response.body()).endsWith("xff=192.0.2.9, 127.0.0.7 proto=http\n");
    }

    @Test
    void forwardedForAppendsToEveryFieldTheClientSentOrReplacesThemWhenTheServiceSaysSo() throws Exception {
        String forged = "X-Forwarded-For: 192.0.2.9\r\nX-Forwarded-For: 198.51.100.1\r\n";
        apply("scheduler: rr", "weight: 1", "weight: 1");
        assertThat(RawHttp.get(port, "/", "127.0.0.7", forged).body())
                .endsWith("xff=192.0.2.9, 198.51.100.1, 127.0.0.7 proto=http\n");

        apply("scheduler: rr\n    forwarded-for: replace", "weight: 1", "weight: 1");
        assertThat(RawHttp.get(port, "/", "127.0.0.7", forged).body()).endsWith("xff=127.0.0.7 proto=http\n");
        assertThat(RawHttp.get(port, "/", "127.0.0.7", "").body()).endsWith("xff=127.0.0.7 proto=http\n");
    }

    @Test
    void failoverModeSendsEverythingToTheFirstServerUntilItStops() throws Exception {
        apply("balance: failover", "weight: 1", "weight: 1");

        assertThat(countBackends(20, "127.0.0.1")).containsOnlyKeys("web1");
        web1.close();
        assertThat(countBackends(20, "127.0.0.1")).containsOnlyKeys("web2");
    }

    @Test
    void sourceIpPersistenceKeepsAClientOnItsServer() throws Exception {
        apply("persistence: { type: source-ip, timeout: 10m }", "weight: 1", "weight: 1");

        for (String client : List.of("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")) {
            assertThat(countBackends(10, client)).hasSize(1);
        }
    }

    @Test
    void cookiePersistenceKeepsABrowserOnItsServer() throws Exception {
        apply("persistence: { type: cookie }", "weight: 1", "weight: 1");

        RawHttp.Response first = RawHttp.get(port, "/");
        String cookie = first.header("Set-Cookie");
        assertThat(cookie).startsWith("BATONID=").containsIgnoringCase("HttpOnly");
        String server = first.body().split(" ")[0];
        for (int i = 0; i < 10; i++) {
            RawHttp.Response again = RawHttp.get(port, "/", "127.0.0.1", "Cookie: " + cookie.split(";")[0] + "\r\n");
            assertThat(again.body()).startsWith(server + " ");
            assertThat(again.header("Set-Cookie")).isNull();
        }
    }

    @Test
    void drainTakesNoNewClientsButKeepsPersistentOnesAndHaltTakesNone() throws Exception {
        apply("persistence: { type: source-ip, timeout: 10m }", "weight: 1", "weight: 1");
        String stickyClient = null;
        for (int i = 2; i < 50 && stickyClient == null; i++) {
            if (RawHttp.get(port, "/", "127.0.0." + i, "").body().startsWith("web1 ")) {
                stickyClient = "127.0.0." + i;
            }
        }
        assertThat(stickyClient).isNotNull();

        apply("persistence: { type: source-ip, timeout: 10m }", "weight: 1, state: drain", "weight: 1");
        assertThat(countBackends(5, stickyClient)).containsOnlyKeys("web1");
        assertThat(countBackends(5, "127.0.1.1")).containsOnlyKeys("web2");

        apply("persistence: { type: source-ip, timeout: 10m }", "weight: 1, state: halt", "weight: 1");
        assertThat(countBackends(5, stickyClient)).containsOnlyKeys("web2");
    }

    @Test
    void haltClosesEstablishedConnections() throws Exception {
        apply("", "weight: 1", "weight: 1");
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            out.write("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            Backend busy = await().until(() -> engine.pool("web").orElseThrow().backends().stream()
                    .filter(backend -> backend.activeConnections() == 1).findFirst().orElse(null), b -> b != null);

            String state = busy.name().equals("web1") ? "weight: 1, state: halt" : "weight: 1";
            String other = busy.name().equals("web2") ? "weight: 1, state: halt" : "weight: 1";
            apply("", state, other);

            assertThat(socket.getInputStream().read()).isEqualTo(-1);
        }
    }

    @Test
    void redispatchHidesAKilledServerFromClients() throws Exception {
        apply("scheduler: rr", "weight: 1", "weight: 1");
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicInteger failures = new AtomicInteger();
        AtomicInteger done = new AtomicInteger();
        java.net.http.HttpClient client = java.net.http.HttpClient.newBuilder()
                .version(java.net.http.HttpClient.Version.HTTP_1_1).build();
        ExecutorService load = Executors.newFixedThreadPool(4);
        List<Future<?>> workers = new ArrayList<>();
        for (int w = 0; w < 4; w++) {
            workers.add(load.submit(() -> {
                while (running.get()) {
                    try {
                        var response = client.send(java.net.http.HttpRequest.newBuilder(
                                java.net.URI.create("http://127.0.0.1:" + port + "/")).build(),
                                java.net.http.HttpResponse.BodyHandlers.ofString());
                        if (response.statusCode() != 200) {
                            failures.incrementAndGet();
                        }
                    } catch (Exception e) {
                        failures.incrementAndGet();
                    }
                    done.incrementAndGet();
                }
                return null;
            }));
        }
        await().until(() -> done.get() > 200);
        web1.dieBetweenResponses();
        int atKill = done.get();
        await().until(() -> done.get() > atKill + 400);
        running.set(false);
        for (Future<?> worker : workers) {
            worker.get();
        }
        load.shutdown();

        assertThat(failures.get()).isZero();
    }

    @Test
    void theFallbackServerAnswersWhenAllServersAreDown() throws Exception {
        TestServers.Http maintenance = server("maintenance");
        apply("fallback: 127.0.0.1:" + maintenance.port(), "weight: 1", "weight: 1");
        engine.setHealth("web", "web1", Health.DOWN);
        engine.setHealth("web", "web2", Health.DOWN);

        assertThat(RawHttp.get(port, "/").body()).startsWith("maintenance ");
    }

    @Test
    void noHealthyServerGets503AndNoReachableServerGets502() throws Exception {
        apply("", "weight: 1", "weight: 1");
        engine.setHealth("web", "web1", Health.DOWN);
        engine.setHealth("web", "web2", Health.DOWN);
        RawHttp.Response unavailable = RawHttp.get(port, "/");
        assertThat(unavailable.status()).isEqualTo(503);
        assertThat(unavailable.body()).isEqualTo("503 Service Unavailable: no server is available\n");

        engine.setHealth("web", "web1", Health.UP);
        engine.setHealth("web", "web2", Health.UP);
        web1.close();
        web2.close();
        assertThat(RawHttp.get(port, "/").status()).isEqualTo(502);
    }

    @Test
    void aServerThatDoesNotAnswerGets504() throws Exception {
        apply("timeouts: { server-idle: 500ms }", "weight: 1", "weight: 1");

        RawHttp.Response response = RawHttp.get(port, "/slow");

        assertThat(response.status()).isEqualTo(504);
    }

    @Test
    void badClientsGetTheirStatusWhileAGoodClientSeesNoError() throws Exception {
        apply("timeouts: { http-request: 1s }", "weight: 1", "weight: 1");
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicInteger goodFailures = new AtomicInteger();
        AtomicInteger goodDone = new AtomicInteger();
        Thread good = new Thread(() -> {
            while (running.get()) {
                try {
                    if (RawHttp.get(port, "/").status() != 200) {
                        goodFailures.incrementAndGet();
                    }
                } catch (IOException e) {
                    goodFailures.incrementAndGet();
                }
                goodDone.incrementAndGet();
            }
        });
        good.start();
        try {
            assertThat(RawHttp.send(port, "127.0.0.1", "GARBAGE\r\n\r\n").status()).isEqualTo(400);
            assertThat(RawHttp.send(port, "127.0.0.1", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
                    .status()).isEqualTo(400);
            String huge = "X-Big: " + "a".repeat(L7Engine.MAX_HEADER_BYTES + 10) + "\r\n";
            assertThat(RawHttp.get(port, "/", "127.0.0.1", huge).status()).isEqualTo(431);
            assertThat(slowloris()).isEqualTo(408);
            assertThat(RawHttp.get(port, "/reset").status()).as("a reset mid-response ends in a close").isIn(0, 200);
        } finally {
            running.set(false);
            good.join();
        }
        assertThat(goodDone.get()).isPositive();
        assertThat(goodFailures.get()).isZero();
    }

    @Test
    void aBodyOwedPastHttpBodyIs408AndWithNoRequestBufferABodyStreamsAtOnce() throws Exception {
        apply("timeouts: { http-request: 30s, http-body: 500ms }", "weight: 1", "weight: 0");
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(10_000);
            // the head at once, then ten bytes of the forty promised, and silence
            socket.getOutputStream().write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n0123456789"
                    .getBytes(StandardCharsets.US_ASCII));
            assertThat(RawHttp.read(socket.getInputStream()).status()).as("within http-body: 408, not http-request's 30 s")
                    .isEqualTo(408);
        }

        apply("scheduler: wrr\n    limits: { request-buffer: 0 }", "weight: 1", "weight: 0");
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            out.write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\nab".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            // nothing buffered: a server is chosen (its slot taken) before the body is complete
            await().atMost(Duration.ofSeconds(5)).until(() ->
                    engine.pool("web").orElseThrow().backend("web1").orElseThrow().activeConnections() == 1);
            out.write("cd".getBytes(StandardCharsets.US_ASCII));
            assertThat(RawHttp.read(socket.getInputStream()).status()).isEqualTo(200);
        }
    }

    @Test
    void aLargeDownloadStreamsThrough() throws Exception {
        apply("", "weight: 1", "weight: 0");
        long size = 64L * 1024 * 1024;
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.getOutputStream().write(("GET /big?" + size + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            InputStream in = socket.getInputStream();
            long total = 0;
            byte[] buffer = new byte[64 * 1024];
            int read;
            while ((read = in.read(buffer)) > 0) {
                total += read;
            }
            assertThat(total).isGreaterThan(size);
        }
        Backend web1Backend = engine.pool("web").orElseThrow().backend("web1").orElseThrow();
        assertThat(web1Backend.bytesOut()).isGreaterThanOrEqualTo(size);
    }

    @Test
    void keepAliveServesManyRequestsOnOneConnection() throws Exception {
        apply("", "weight: 1", "weight: 1");
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            out.write(("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            String all = new String(socket.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
            assertThat(all.split("HTTP/1.1 200 OK", -1)).hasSize(4);
        }
    }

    @Test
    void handingOverClosesIdleKeepAliveConnectionsAndTheOthersAfterTheirAnswer() throws Exception {
        apply("", "weight: 1", "weight: 1");
        try (Socket idle = keepAlive(); Socket fresh = new Socket("127.0.0.1", port)) {
            assertThat(oneResponse(idle)).doesNotContainIgnoringCase("connection: close");
            fresh.setSoTimeout(10_000);

            engine.handingOver(true);

            await().atMost(Duration.ofSeconds(10)).until(() -> idle.getInputStream().read() == -1);
            // a connection whose first request may be on its way is not cut: it is answered, then closed
            fresh.getOutputStream().write("GET /f HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(oneResponse(fresh)).startsWith("HTTP/1.1 200").containsIgnoringCase("connection: close");
            assertThat(fresh.getInputStream().read()).isEqualTo(-1);
        }
        // a connection that asks for keep-alive now is told the truth, then closed
        try (Socket later = new Socket("127.0.0.1", port)) {
            later.setSoTimeout(10_000);
            later.getOutputStream().write("GET /x HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(oneResponse(later)).startsWith("HTTP/1.1 200").containsIgnoringCase("connection: close");
            assertThat(later.getInputStream().read()).isEqualTo(-1);
        }

        engine.setActive(true); // the VIPs are held here again: keep-alive as before
        try (Socket again = keepAlive()) {
            again.getOutputStream().write("GET /y HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(oneResponse(again)).startsWith("HTTP/1.1 200").doesNotContainIgnoringCase("connection: close");
        }
    }

    /** A connection that has had one keep-alive request answered (its answer left unread). */
    private Socket keepAlive() throws IOException {
        Socket socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(10_000);
        socket.getOutputStream().write("GET /a HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        return socket;
    }

    /** Reads one response (head and Content-Length body) off a connection that stays open; returns its head. */
    private static String oneResponse(Socket socket) throws IOException {
        InputStream in = socket.getInputStream();
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("closed after " + head);
            }
            head.append((char) b);
        }
        int length = 0;
        for (String line : head.toString().split("\r\n")) {
            if (line.regionMatches(true, 0, "content-length:", 0, 15)) {
                length = Integer.parseInt(line.substring(15).strip());
            }
        }
        in.readNBytes(length);
        return head.toString();
    }

    /** Sends a request head one byte at a time, slower than the http-request timeout allows. */
    private int slowloris() throws Exception {
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            byte[] head = "GET / HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.US_ASCII);
            long start = System.nanoTime();
            for (byte b : head) {
                try {
                    out.write(b);
                    out.flush();
                } catch (IOException closed) {
                    break;
                }
                if (Duration.ofNanos(System.nanoTime() - start).toMillis() > 3000) {
                    break;
                }
                Thread.sleep(200);
            }
            return RawHttp.read(socket.getInputStream()).status();
        }
    }

    private Map<String, Integer> countBackends(int requests, String clientIp) throws IOException {
        Map<String, Integer> seen = new HashMap<>();
        for (int i = 0; i < requests; i++) {
            RawHttp.Response response = RawHttp.get(port, "/", clientIp, "");
            assertThat(response.status()).as(response.head()).isEqualTo(200);
            seen.merge(response.body().split(" ")[0], 1, Integer::sum);
        }
        return seen;
    }

    private TestServers.Http server(String name) throws IOException {
        TestServers.Http server = new TestServers.Http(name);
        closeables.add(server);
        return server;
    }

    /** Applies a one-service config: extra service keys (wrr unless a scheduler is given), and each server's. */
    private void apply(String extra, String web1Keys, String web2Keys) throws Exception {
        String serviceKeys = extra.contains("scheduler") ? extra : "scheduler: wrr\n    " + extra;
        String yaml = """
                cluster: { name: t, nodes: [{ id: n1, address: 127.0.0.1:7800 }] }
                vips: [{ name: v, address: 127.0.0.1/32, interface: lo }]
                services:
                  - name: web
                    vip: v
                    ports: [%d]
                    mode: l7-snat
                    l7: http
                    %s
                    servers:
                      - { name: web1, address: 127.0.0.1:%d, %s }
                      - { name: web2, address: 127.0.0.1:%d, %s }
                """.formatted(port, serviceKeys, web1.port(), web1Keys, web2.port(), web2Keys);
        BatonConfig config = ConfigParser.parse(yaml, ConfigParser.Format.YAML);
        assertThat(engine.apply(config)).isEmpty();
    }
}
