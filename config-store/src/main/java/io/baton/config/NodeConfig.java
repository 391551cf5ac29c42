package io.baton.config;

/**
 * One appliance node.
 *
 * @param id             unique name of the node ({@code lb1})
 * @param clusterAddress the address the node's cluster traffic binds to (never 0.0.0.0)
 * @param adminAddress   where the node's admin API listens
 * @param priority       1..255; the highest eligible priority becomes active (ties by id)
 */
public record NodeConfig(String id, HostPort clusterAddress, HostPort adminAddress, int priority) {

    public static final HostPort DEFAULT_ADMIN = new HostPort("127.0.0.1", 9090);
    public static final int DEFAULT_PRIORITY = 100;
}
