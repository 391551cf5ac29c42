package io.baton.config;

import java.time.Duration;

/**
 * How much an {@code l7-snat} service takes on at once, in HAProxy's terms (frontend
 * {@code maxconn}, server {@code maxconn}, the backend queue and {@code timeout queue}). The
 * defaults protect a small PACS or web viewer: a hundred connections each, which such a server
 * serves well, and a short queue in front of them instead of a flood of connects.
 *
 * @param maxConnections       client connections open at once; a client beyond it is answered
 *                             503 ({@code http}) or closed ({@code tcp}) at once
 * @param serverMaxConnections connections to each real server at once (its own
 *                             {@code max-connections} overrides it): in {@code http} mode requests
 *                             in progress, in {@code tcp} mode relayed connections
 * @param queue                requests or connections that wait for a server with a free
 *                             connection when every usable one is at its maximum; 0 waits none.
 *                             Beyond it: 503 or closed
 * @param queueTimeout         how long one waits in the queue at most; then 503 or closed
 * @param requestBuffer        {@code http} mode: bytes of a request body read before a server is
 *                             chosen for it (HAProxy's {@code http-buffer-request}), so that a client
 *                             that dribbles holds no server connection; 0 streams at once
 */
public record Limits(int maxConnections, int serverMaxConnections, int queue, Duration queueTimeout,
                     int requestBuffer) {

    public static final int MAX = 1_000_000;
    public static final int DEFAULT_REQUEST_BUFFER = 64 * 1024;
    public static final int MAX_REQUEST_BUFFER = 1024 * 1024;
    public static final Limits DEFAULTS = new Limits(2000, 100, 200, Duration.ofSeconds(5), DEFAULT_REQUEST_BUFFER);

    public Limits(int maxConnections, int serverMaxConnections, int queue, Duration queueTimeout) {
        this(maxConnections, serverMaxConnections, queue, queueTimeout, DEFAULT_REQUEST_BUFFER);
    }

    /** The most connections {@code server} may have open at once under these limits. */
    public int forServer(RealServer server) {
        return server.maxConnections() == null ? serverMaxConnections : server.maxConnections();
    }
}
