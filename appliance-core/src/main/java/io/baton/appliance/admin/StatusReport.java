package io.baton.appliance.admin;

import io.baton.config.BatonConfig;
import io.baton.config.HostPort;
import io.baton.config.NodeConfig;
import io.baton.config.PersistenceType;
import io.baton.config.RealServer;
import io.baton.config.StoredConfig;
import io.baton.config.VipConfig;
import io.baton.config.VirtualService;

import java.util.List;

/**
 * What {@code GET /api/v1/status} answers and {@code baton status} prints. The same records are
 * written by the node and read by the CLI.
 *
 * @param clustering false while the node runs without cluster membership
 */
public record StatusReport(
        String cluster,
        String node,
        boolean clustering,
        ConfigSummary config,
        List<NodeStatus> nodes,
        List<VipStatus> vips,
        List<ServiceStatus> services) {

    /** Role of a node that runs on its own, without cluster membership. */
    public static final String ROLE_STANDALONE = "STANDALONE";
    /** Role of a peer this node has no word from. */
    public static final String ROLE_UNKNOWN = "UNKNOWN";
    /** Health of a server that no check has judged yet. */
    public static final String HEALTH_UNKNOWN = "unknown";

    /** The applied config. */
    public record ConfigSummary(long revision, String checksum, String appliedAt, String source) {
    }

    /** @param revision the config revision the node runs; null when unknown */
    public record NodeStatus(String id, String role, int priority, Long revision, String clusterAddress,
                             String adminAddress, boolean self) {
    }

    /** @param holder the node holding the VIP; null when no node holds it */
    public record VipStatus(String name, String address, String iface, String holder) {
    }

    public record ServiceStatus(String name, String vip, String address, List<Integer> ports, String mode,
                                String balance, String scheduler, String persistence, List<ServerStatus> servers) {
    }

    public record ServerStatus(String name, String address, int weight, String state, String health) {
    }

    /**
     * The status of a node that runs {@code applied} on its own and serves its admin API at
     * {@code adminAddress} (which a command-line override may have moved from the configured one).
     */
    public static StatusReport of(String nodeId, StoredConfig applied, HostPort adminAddress) {
        BatonConfig config = applied.config();
        List<NodeStatus> nodes = config.cluster().nodes().stream()
                .map(node -> nodeStatus(node, nodeId, applied.revision(), adminAddress))
                .toList();
        List<VipStatus> vips = config.vips().stream()
                .map(vip -> new VipStatus(vip.name(), vip.cidr(), vip.iface(), null))
                .toList();
        List<ServiceStatus> services = config.services().stream()
                .map(service -> serviceStatus(config, service))
                .toList();
        return new StatusReport(config.cluster().name(), nodeId, false,
                new ConfigSummary(applied.revision(), applied.checksum(), applied.appliedAt().toString(),
                        applied.source()),
                nodes, vips, services);
    }

    private static NodeStatus nodeStatus(NodeConfig node, String self, long revision, HostPort adminAddress) {
        boolean isSelf = node.id().equals(self);
        return new NodeStatus(node.id(), isSelf ? ROLE_STANDALONE : ROLE_UNKNOWN, node.priority(),
                isSelf ? revision : null, node.clusterAddress().toString(),
                (isSelf ? adminAddress : node.adminAddress()).toString(), isSelf);
    }

    private static ServiceStatus serviceStatus(BatonConfig config, VirtualService service) {
        String address = config.vip(service.vip()).map(VipConfig::address).orElse(null);
        String mode = service.mode().configName() + (service.l7Mode() == null ? "" : "/" + service.l7Mode().configName());
        String persistence = service.persistence().type() == PersistenceType.NONE ? "none"
                : service.persistence().type().configName();
        List<ServerStatus> servers = service.servers().stream()
                .map(StatusReport::serverStatus)
                .toList();
        return new ServiceStatus(service.name(), service.vip(), address, service.ports(), mode,
                service.balance().configName(), service.scheduler().configName(), persistence, servers);
    }

    private static ServerStatus serverStatus(RealServer server) {
        return new ServerStatus(server.name(), server.address().toString(), server.weight(),
                server.state().configName(), HEALTH_UNKNOWN);
    }
}
