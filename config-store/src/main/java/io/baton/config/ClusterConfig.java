package io.baton.config;

import java.util.List;
import java.util.Optional;

/**
 * The cluster as a whole.
 *
 * @param witness an address a node in a minority partition must reach before it may hold VIPs:
 *                {@code a.b.c.d} (ICMP) or {@code a.b.c.d:port} (TCP connect); null when none
 * @param keyFile the shared key that authenticates and encrypts cluster traffic; null when none
 */
public record ClusterConfig(String name, List<NodeConfig> nodes, boolean preempt, HostPort witness, String keyFile) {

    public ClusterConfig {
        nodes = List.copyOf(nodes);
    }

    public Optional<NodeConfig> node(String id) {
        return nodes.stream().filter(node -> java.util.Objects.equals(node.id(), id) && id != null).findFirst();
    }
}
