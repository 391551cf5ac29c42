package io.baton.appliance;

import io.baton.config.HostPort;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** Real HTTP to a node's admin API, as a script or the CLI would send it. */
public final class TestHttp {

    private static final HttpClient CLIENT = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();

    private TestHttp() {
    }

    public static HttpResponse<String> get(HostPort admin, String path) throws IOException, InterruptedException {
        return CLIENT.send(request(admin, path).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    public static HttpResponse<String> send(HostPort admin, String method, String path, String contentType,
                                            String body) throws IOException, InterruptedException {
        return CLIENT.send(request(admin, path).header("Content-Type", contentType)
                .method(method, HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpRequest.Builder request(HostPort admin, String path) {
        return HttpRequest.newBuilder(URI.create("http://" + admin + path)).timeout(Duration.ofSeconds(10));
    }

    /** A loopback port that was free a moment ago. */
    /**
     * A port free now that this JVM has not handed out before: the kernel may give a port just
     * closed to the next bind(0), so two calls in a row (a cluster's addresses) could be equal.
     */
    public static int freePort() throws IOException {
        while (true) {
            try (ServerSocket socket = new ServerSocket(0)) {
                if (HANDED_OUT.add(socket.getLocalPort())) {
                    return socket.getLocalPort();
                }
            }
        }
    }

    /** A free port whose successor is free too (the demo's second node takes the admin port + 1). */
    public static int freePortPair() throws IOException {
        while (true) {
            try (ServerSocket first = new ServerSocket(0)) {
                int port = first.getLocalPort();
                if (port == 65_535 || HANDED_OUT.contains(port) || HANDED_OUT.contains(port + 1)) {
                    continue;
                }
                try (ServerSocket second = new ServerSocket(port + 1)) {
                    if (HANDED_OUT.add(port) && HANDED_OUT.add(port + 1)) {
                        return port;
                    }
                } catch (IOException taken) {
                    // its successor is in use: another
                }
            }
        }
    }

    private static final java.util.Set<Integer> HANDED_OUT = java.util.concurrent.ConcurrentHashMap.newKeySet();
}
