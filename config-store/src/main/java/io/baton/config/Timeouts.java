package io.baton.config;

import java.time.Duration;

/**
 * Connection timeouts. Idle defaults are long because DICOM associations sit idle for a long time.
 *
 * @param connect     connecting to a real server (then the next server is tried)
 * @param clientIdle  a client connection with no traffic is closed
 * @param serverIdle  a server connection with no traffic is closed; in {@code http} mode also how
 *                    long a server may take to answer (504 after it)
 * @param httpRequest {@code http} mode: a client must send a whole request head within this
 *                    (408 after it), so that slow clients cannot hold connections open
 * @param httpBody    {@code http} mode: once the head is in, the body up to
 *                    {@code limits.request-buffer} must follow within this (408 after it); the
 *                    rest of a larger body streams, bounded by {@code client-idle}
 */
public record Timeouts(Duration connect, Duration clientIdle, Duration serverIdle, Duration httpRequest,
                       Duration httpBody) {

    public static final Timeouts DEFAULTS = new Timeouts(Duration.ofSeconds(5), Duration.ofHours(1), Duration.ofHours(1),
            Duration.ofSeconds(10), Duration.ofSeconds(10));
}
