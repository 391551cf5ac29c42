package io.baton.forwarding.l7;

import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/** Real servers for the engine tests: small HTTP and TCP servers on loopback. */
final class TestServers {

    private TestServers() {
    }

    /** An HTTP server that answers its own name; {@code /slow} never answers, {@code /reset} breaks mid-body. */
    static final class Http implements AutoCloseable {

        final String name;
        final HttpServer server;
        private final ExecutorService executor = Executors.newCachedThreadPool();

        Http(String name) throws IOException {
            this.name = name;
            server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 128);
            server.setExecutor(executor);
            server.createContext("/", exchange -> {
                String path = exchange.getRequestURI().getPath();
                if (path.equals("/slow")) {
                    try {
                        Thread.sleep(60_000);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    exchange.close();
                    return;
                }
                if (path.equals("/reset")) {
                    exchange.sendResponseHeaders(200, 1_000_000);
                    exchange.getResponseBody().write(new byte[1000]);
                    exchange.getResponseBody().flush();
                    exchange.getHttpContext().getServer();
                    closeAbruptly(exchange);
                    return;
                }
                if (path.equals("/big")) {
                    long size = Long.parseLong(exchange.getRequestURI().getQuery());
                    exchange.sendResponseHeaders(200, size);
                    try (OutputStream out = exchange.getResponseBody()) {
                        byte[] chunk = new byte[64 * 1024];
                        for (long sent = 0; sent < size; sent += chunk.length) {
                            out.write(chunk, 0, (int) Math.min(chunk.length, size - sent));
                        }
                    }
                    return;
                }
                String forwarded = exchange.getRequestHeaders().getFirst("X-Forwarded-For");
                byte[] body = (name + " xff=" + forwarded + " proto="
                        + exchange.getRequestHeaders().getFirst("X-Forwarded-Proto") + "\n")
                        .getBytes(StandardCharsets.UTF_8);
                try (InputStream in = exchange.getRequestBody()) {
                    in.readAllBytes();
                }
                exchange.getResponseHeaders().set("Content-Type", "text/plain");
                exchange.sendResponseHeaders(200, body.length);
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            });
            server.start();
        }

        int port() {
            return server.getAddress().getPort();
        }

        @Override
        public void close() {
            server.stop(0);
            executor.shutdownNow();
        }

        /**
         * Dies between responses: the port refuses and idle connections close at once, and the
         * responses under way are written first. (A death in the middle of a response cannot be
         * hidden by any proxy: the client has its head already.)
         */
        void dieBetweenResponses() {
            server.stop(1);
            executor.shutdownNow();
        }

        private static void closeAbruptly(com.sun.net.httpserver.HttpExchange exchange) {
            // stop(0) from another thread would take the whole server down; closing the exchange's
            // streams early leaves the promised body unfinished, which is what a crash looks like
            exchange.close();
        }
    }

    /** A TCP server that greets with its name, then echoes; on EOF it says "bye" and closes. */
    static final class Tcp implements AutoCloseable {

        final String name;
        final ServerSocket socket;
        private final ExecutorService executor = Executors.newCachedThreadPool();
        private final java.util.Set<Socket> connections = java.util.concurrent.ConcurrentHashMap.newKeySet();

        Tcp(String name) throws IOException {
            this.name = name;
            socket = new ServerSocket(0, 128, java.net.InetAddress.getLoopbackAddress());
            executor.submit(() -> {
                while (!socket.isClosed()) {
                    Socket connection;
                    try {
                        connection = socket.accept();
                    } catch (IOException e) {
                        return;
                    }
                    connections.add(connection);
                    try {
                        executor.submit(() -> serve(connection));
                    } catch (java.util.concurrent.RejectedExecutionException closing) {
                        closeQuietly(connection);
                        return;
                    }
                }
            });
        }

        private void serve(Socket connection) {
            try (connection) {
                OutputStream out = connection.getOutputStream();
                out.write((name + "\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
                InputStream in = connection.getInputStream();
                byte[] buffer = new byte[8192];
                int read;
                while ((read = in.read(buffer)) > 0) {
                    out.write(buffer, 0, read);
                    out.flush();
                }
                out.write("bye\n".getBytes(StandardCharsets.UTF_8));
                out.flush();
            } catch (IOException ignored) {
                // the client went away
            } finally {
                connections.remove(connection);
            }
        }

        int port() {
            return socket.getLocalPort();
        }

        /**
         * Closes the listener and every connection, and returns only once the accept thread has
         * gone: a listener closed while a thread is blocked in accept() is closed for real only when
         * that thread leaves, and until then it can still accept a connection that nobody serves
         * (a proxy's connect to a "closed" server then hangs instead of being refused).
         */
        @Override
        public void close() throws IOException {
            socket.close();
            executor.shutdownNow();
            connections.forEach(Tcp::closeQuietly);
            try {
                if (!executor.awaitTermination(5, java.util.concurrent.TimeUnit.SECONDS)) {
                    throw new IOException("test server " + name + " did not stop within 5 s");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        private static void closeQuietly(Socket connection) {
            try {
                connection.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
    }

    /**
     * nginx as a real server, one process (no workers), its files in {@code dir}, with one server
     * block ({@code server}: its directives, a {@code listen} on {@code port} among them); returns once
     * it listens. nginx must be installed (run-tests installs it).
     */
    static Process nginx(java.nio.file.Path dir, int port, String server) throws Exception {
        java.nio.file.Files.writeString(dir.resolve("nginx.conf"), """
                daemon off;
                master_process off;
                error_log %1$s/error.log warn;
                pid %1$s/nginx.pid;
                events { worker_connections 64; }
                http {
                    access_log off;
                    client_body_temp_path %1$s/body;
                    proxy_temp_path %1$s/proxy;
                    fastcgi_temp_path %1$s/fastcgi;
                    uwsgi_temp_path %1$s/uwsgi;
                    scgi_temp_path %1$s/scgi;
                    server {
                %2$s
                    }
                }
                """.formatted(dir, server.indent(8).stripTrailing()));
        Process nginx = new ProcessBuilder("nginx", "-e", dir.resolve("error.log").toString(), "-p", dir.toString(),
                "-c", dir.resolve("nginx.conf").toString()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("nginx.out").toFile()).start();
        try {
            awaitListening(port);
        } catch (RuntimeException e) {
            nginx.destroy();
            throw new IllegalStateException("nginx does not listen on " + port + ": "
                    + java.nio.file.Files.readString(dir.resolve("error.log")), e);
        }
        return nginx;
    }

    /** Returns once something (a process a test started) accepts connections on 127.0.0.1:{@code port}. */
    static void awaitListening(int port) {
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).ignoreExceptions().until(() -> {
            try (Socket probe = new Socket("127.0.0.1", port)) {
                return probe.isConnected();
            }
        });
    }

    static int freePort() throws IOException {
        try (ServerSocket probe = new ServerSocket(0)) {
            return probe.getLocalPort();
        }
    }

    /**
     * An active L7 engine with one {@code l7: http} service "web" on 127.0.0.1:{@code port}, its
     * extra service keys ({@code serviceKeys}, YAML lines at the service's indent, may be empty) and
     * servers ({@code servers}: a YAML flow list).
     */
    static L7Engine httpEngine(int port, String serviceKeys, String servers) throws Exception {
        return engine(port, "http", "", serviceKeys, servers);
    }

    /**
     * An active L7 engine with one service "web" of the given {@code l7} kind on 127.0.0.1:{@code port},
     * with top-level keys ({@code topKeys}, YAML lines, may be empty) besides the cluster and VIP.
     */
    static L7Engine engine(int port, String l7, String topKeys, String serviceKeys, String servers)
            throws Exception {
        L7Engine engine = new L7Engine(new io.baton.forwarding.PersistenceTable(java.time.Clock.systemUTC()), 2);
        java.util.List<String> problems = engine.apply(config(port, l7, topKeys, serviceKeys, servers));
        if (!problems.isEmpty()) {
            engine.close();
            throw new IllegalStateException("the test service does not run: " + problems);
        }
        engine.setActive(true);
        return engine;
    }

    /** The config of {@link #engine}: for applying another version of it to a running engine. */
    static io.baton.config.BatonConfig config(int port, String l7, String topKeys, String serviceKeys, String servers)
            throws Exception {
        return io.baton.config.ConfigParser.parse("""
                cluster: { name: t, nodes: [{ id: n1, address: 127.0.0.1:7800 }] }
                vips: [{ name: v, address: 127.0.0.1/32, interface: lo }]
                %s
                services:
                  - name: web
                    vip: v
                    ports: [%d]
                    mode: l7-snat
                    l7: %s
                %s
                    servers: %s
                """.formatted(topKeys, port, l7, serviceKeys.isEmpty() ? "" : serviceKeys.indent(4).stripTrailing(),
                        servers),
                io.baton.config.ConfigParser.Format.YAML);
    }
}
