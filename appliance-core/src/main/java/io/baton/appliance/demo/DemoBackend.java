package io.baton.appliance.demo;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A small HTTP server on loopback that stands in for a web viewer in the demo: it says which
 * backend answered, so that balancing is visible, and has a {@code /health} page for checks.
 */
public final class DemoBackend implements AutoCloseable {

    private final String name;
    private final HttpServer server;
    private final ExecutorService executor;

    private DemoBackend(String name, HttpServer server, ExecutorService executor) {
        this.name = name;
        this.server = server;
        this.executor = executor;
    }

    /** Starts a backend on 127.0.0.1 at {@code port} (0 picks a free one). */
    public static DemoBackend start(String name, int port) throws IOException {
        return start(name, "127.0.0.1", port);
    }

    /** Starts a backend on {@code host:port}. */
    public static DemoBackend start(String name, String host, int port) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 64);
        ExecutorService executor = Executors.newFixedThreadPool(4, runnable -> {
            Thread thread = new Thread(runnable, "demo-" + name);
            thread.setDaemon(true);
            return thread;
        });
        server.setExecutor(executor);
        server.createContext("/health", exchange -> respond(exchange, 200, "ok\n"));
        server.createContext("/", exchange -> respond(exchange, 200, "hello from " + name + "\n"));
        server.start();
        return new DemoBackend(name, server, executor);
    }

    /**
     * Runs one backend until the process is stopped, for test networks and manual setups:
     * {@code java -cp baton.jar io.baton.appliance.demo.DemoBackend NAME HOST PORT}.
     */
    public static void main(String[] args) throws IOException, InterruptedException {
        if (args.length != 3) {
            System.err.println("usage: DemoBackend NAME HOST PORT");
            System.exit(64);
        }
        start(args[0], args[1], Integer.parseInt(args[2]));
        System.out.println("demo backend " + args[0] + " listening on " + args[1] + ":" + args[2]);
        Thread.currentThread().join();
    }

    public String name() {
        return name;
    }

    public int port() {
        return server.getAddress().getPort();
    }

    private static void respond(HttpExchange exchange, int status, String text) throws IOException {
        byte[] body = text.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
        exchange.sendResponseHeaders(status, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
