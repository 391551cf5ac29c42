package io.baton.config;

import java.time.Duration;

/**
 * Keeps a client on one real server.
 *
 * @param timeout    how long after its last connection a client is remembered
 * @param netmask    prefix length applied to the client address ({@code source-ip}); 32 is one client
 * @param cookieName the inserted cookie ({@code cookie}); null otherwise
 */
public record Persistence(PersistenceType type, Duration timeout, int netmask, String cookieName) {

    public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(30);
    public static final String DEFAULT_COOKIE = "BATONID";
    public static final Persistence NONE = new Persistence(PersistenceType.NONE, DEFAULT_TIMEOUT, 32, null);
}
