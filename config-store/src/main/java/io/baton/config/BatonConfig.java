package io.baton.config;

import java.util.List;
import java.util.Optional;

/**
 * The whole appliance configuration: what every node of a cluster runs.
 *
 * @param maxConnections client connections a node's {@code l7-snat} services hold at once, all
 *                       together (HAProxy's global {@code maxconn}): a bound on the node's memory
 *                       and file descriptors, so that a flood cannot take it out of the cluster
 */
public record BatonConfig(ClusterConfig cluster, List<VipConfig> vips, List<VirtualService> services,
                          int maxConnections) {

    public static final int DEFAULT_MAX_CONNECTIONS = 10_000;

    public BatonConfig {
        vips = List.copyOf(vips);
        services = List.copyOf(services);
    }

    public BatonConfig(ClusterConfig cluster, List<VipConfig> vips, List<VirtualService> services) {
        this(cluster, vips, services, DEFAULT_MAX_CONNECTIONS);
    }

    /** This config with other services, all else kept. */
    public BatonConfig withServices(List<VirtualService> newServices) {
        return new BatonConfig(cluster, vips, newServices, maxConnections);
    }

    public Optional<VipConfig> vip(String name) {
        return vips.stream().filter(vip -> java.util.Objects.equals(vip.name(), name) && name != null).findFirst();
    }

    public Optional<VirtualService> service(String name) {
        return services.stream().filter(service -> java.util.Objects.equals(service.name(), name) && name != null).findFirst();
    }
}
