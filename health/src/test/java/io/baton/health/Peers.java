package io.baton.health;

import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;

/** Real peers for the checks: DCMTK processes, HTTP servers, greeting and silent TCP servers. */
final class Peers implements AutoCloseable {

    private final List<Process> processes = new CopyOnWriteArrayList<>();
    /** Added to by accept threads while close() may be walking it. */
    private final List<AutoCloseable> servers = new CopyOnWriteArrayList<>();
    private final ExecutorService executor = Executors.newCachedThreadPool();

    /** DCMTK's storescp: accepts Verification whatever the called AE title. */
    int storescp(Path dir) throws IOException {
        int port = freePort();
        start(dir, "storescp", "-aet", "PACS", String.valueOf(port));
        return port;
    }

    /** DCMTK's dcmqrscp: knows the AE title PACS and rejects any other called AE title. */
    int dcmqrscp(Path dir) throws IOException {
        int port = freePort();
        Path db = Files.createDirectories(dir.resolve("db"));
        Path config = dir.resolve("dcmqrscp.cfg");
        Files.writeString(config, """
                NetworkTCPPort  = %d
                MaxPDUSize      = 16384
                MaxAssociations = 16
                HostTable BEGIN
                HostTable END
                VendorTable BEGIN
                VendorTable END
                AETable BEGIN
                PACS %s RW (9, 1024mb) ANY
                AETable END
                """.formatted(port, db));
        start(dir, "dcmqrscp", "-c", config.toString(), String.valueOf(port));
        return port;
    }

    /** An HTTP server: {@code /ok} 200 "all good", {@code /busy} 503, {@code /hang} never answers. */
    int http() throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        server.setExecutor(executor);
        server.createContext("/ok", exchange -> reply(exchange, 200, "all good"));
        server.createContext("/busy", exchange -> reply(exchange, 503, "busy"));
        server.createContext("/hang", exchange -> {
            try {
                Thread.sleep(60_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        server.start();
        servers.add(() -> server.stop(0));
        return server.getAddress().getPort();
    }

    /** A TCP server that sends {@code greeting} to every client and keeps it open; null sends nothing. */
    int tcp(String greeting) throws IOException {
        ServerSocket socket = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
        servers.add(socket);
        executor.submit(() -> {
            while (!socket.isClosed()) {
                try {
                    Socket client = socket.accept();
                    if (greeting != null) {
                        client.getOutputStream().write(greeting.getBytes(StandardCharsets.US_ASCII));
                        client.getOutputStream().flush();
                    }
                    servers.add(client);
                } catch (IOException e) {
                    return;
                }
            }
        });
        return socket.getLocalPort();
    }

    private void start(Path dir, String... command) throws IOException {
        Process process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(dir.resolve(command[0] + ".log").toFile()).start();
        processes.add(process);
        int port = Integer.parseInt(command[command.length - 1]);
        await().atMost(Duration.ofSeconds(10)).ignoreExceptions().until(() -> {
            try (Socket probe = new Socket("127.0.0.1", port)) {
                return true;
            }
        });
    }

    private static void reply(com.sun.net.httpserver.HttpExchange exchange, int status, String text)
            throws IOException {
        byte[] body = text.getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(status, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket probe = new ServerSocket(0)) {
            return probe.getLocalPort();
        }
    }

    @Override
    public void close() throws Exception {
        for (Process process : processes) {
            process.destroy();
            process.waitFor(5, TimeUnit.SECONDS);
        }
        for (AutoCloseable server : servers) {
            server.close();
        }
        executor.shutdownNow();
    }
}
