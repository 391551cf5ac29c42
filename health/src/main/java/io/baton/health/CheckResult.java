package io.baton.health;

import java.time.Duration;
import java.time.Instant;

/**
 * The outcome of one check of one server.
 *
 * @param reason what was seen, in words an operator can act on ({@code HTTP 503},
 *               {@code association rejected (called AE title not recognised)})
 */
public record CheckResult(boolean up, String reason, Instant at, Duration took) {

    public static CheckResult up(String reason) {
        return new CheckResult(true, reason, Instant.now(), Duration.ZERO);
    }

    public static CheckResult down(String reason) {
        return new CheckResult(false, reason, Instant.now(), Duration.ZERO);
    }
}
