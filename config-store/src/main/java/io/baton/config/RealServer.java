package io.baton.config;

/**
 * A real server behind a virtual service.
 *
 * @param address its IPv4 address and port; without a port it answers on the port the client used
 * @param weight  0..65535; 0 takes no new connections from weighted schedulers
 */
public record RealServer(String name, HostPort address, int weight, ServerState state) {

    public static final int DEFAULT_WEIGHT = 100;
    public static final int MAX_WEIGHT = 65535;
}
