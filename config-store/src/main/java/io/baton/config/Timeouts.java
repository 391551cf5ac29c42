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
 */
public record Timeouts(Duration connect, Duration clientIdle, Duration serverIdle, Duration httpRequest) {

    public static final Timeouts DEFAULTS = new Timeouts(Duration.ofSeconds(5), Duration.ofHours(1), Duration.ofHours(1),
            Duration.ofSeconds(10));
}
