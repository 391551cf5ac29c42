package io.baton.config;

/**
 * A real server behind a virtual service.
 *
 * @param address its IPv4 address and port; without a port it answers on the port the client used
 * @param weight  0..65535; 0 takes no new connections from weighted schedulers
 * @param maxConnections {@code l7-snat}: connections to it at once, overriding the service's
 *                       {@code limits.server-max-connections}; null for the service's
 */
public record RealServer(String name, HostPort address, int weight, ServerState state, Integer maxConnections) {

    public static final int DEFAULT_WEIGHT = 100;
    public static final int MAX_WEIGHT = 65535;

    /** A server with the service's connection limit. */
    public RealServer(String name, HostPort address, int weight, ServerState state) {
        this(name, address, weight, state, null);
    }

    /** This server in another state, all else kept. */
    public RealServer withState(ServerState newState) {
        return new RealServer(name, address, weight, newState, maxConnections);
    }

    /** This server with another weight, all else kept. */
    public RealServer withWeight(int newWeight) {
        return new RealServer(name, address, newWeight, state, maxConnections);
    }
}
