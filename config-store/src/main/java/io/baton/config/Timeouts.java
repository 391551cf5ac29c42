package io.baton.config;

import java.time.Duration;

/**
 * Connection timeouts. Idle defaults are long because DICOM associations sit idle for a long time.
 */
public record Timeouts(Duration connect, Duration clientIdle, Duration serverIdle) {

    public static final Timeouts DEFAULTS = new Timeouts(Duration.ofSeconds(5), Duration.ofHours(1), Duration.ofHours(1));
}
