package io.baton.cluster.wire;

import io.baton.config.ClusterConfig;
import io.baton.config.HostPort;
import io.baton.config.NodeConfig;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The configured nodes as the wire sees them: who may connect, from which address, and who must
 * answer at which address. Identities come from the configuration only, never from the wire.
 */
public final class ClusterPeers {

    private final String cluster;
    private final String self;
    private final Map<String, HostPort> addresses = new LinkedHashMap<>();
    private final Map<String, InetAddress> hosts = new LinkedHashMap<>();

    public ClusterPeers(ClusterConfig config, String self) {
        this.cluster = config.name();
        this.self = self;
        for (NodeConfig node : config.nodes()) {
            addresses.put(node.id(), node.clusterAddress());
            hosts.put(node.id(), literal(node.clusterAddress().host()));
        }
    }

    public String cluster() {
        return cluster;
    }

    public String self() {
        return self;
    }

    public boolean isNode(String nodeId) {
        return addresses.containsKey(nodeId);
    }

    /** The configured cluster address of a node. */
    public Optional<HostPort> address(String nodeId) {
        return Optional.ofNullable(addresses.get(nodeId));
    }

    /** True when some configured node has its cluster address on {@code ip}. */
    public boolean isNodeHost(InetAddress ip) {
        return hosts.containsValue(ip);
    }

    /** True when {@code nodeId} is configured with its cluster address on {@code ip}. */
    public boolean isAt(String nodeId, InetAddress ip) {
        return ip.equals(hosts.get(nodeId));
    }

    /** The node configured at exactly {@code ip:port}. */
    public Optional<String> nodeAt(InetAddress ip, int port) {
        return addresses.entrySet().stream()
                .filter(entry -> entry.getValue().port() == port && ip.equals(hosts.get(entry.getKey())))
                .map(Map.Entry::getKey).findFirst();
    }

    private static InetAddress literal(String host) {
        try {
            return InetAddress.getByName(host); // the config holds IPv4 literals: no name lookup happens
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("cluster address " + host + " is not an IP address", e);
        }
    }
}
