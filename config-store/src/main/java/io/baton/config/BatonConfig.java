package io.baton.config;

import java.util.List;
import java.util.Optional;

/** The whole appliance configuration: what every node of a cluster runs. */
public record BatonConfig(ClusterConfig cluster, List<VipConfig> vips, List<VirtualService> services) {

    public BatonConfig {
        vips = List.copyOf(vips);
        services = List.copyOf(services);
    }

    public Optional<VipConfig> vip(String name) {
        return vips.stream().filter(vip -> java.util.Objects.equals(vip.name(), name) && name != null).findFirst();
    }

    public Optional<VirtualService> service(String name) {
        return services.stream().filter(service -> java.util.Objects.equals(service.name(), name) && name != null).findFirst();
    }
}
