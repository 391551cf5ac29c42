package io.baton.appliance;

import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/** A real HTTP server on loopback that answers its name, as a real server behind a VIP. */
final class TestBackend implements AutoCloseable {

    private final HttpServer server;

    TestBackend(String name) throws IOException {
        this(name, 0);
    }

    /** On a given port (0 for any), so that a stopped backend can come back where it was. */
    TestBackend(String name, int port) throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 64);
        server.createContext("/", exchange -> {
            byte[] body = (name + "\n").getBytes(StandardCharsets.UTF_8);
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
    }
}
