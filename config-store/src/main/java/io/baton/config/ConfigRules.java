package io.baton.config;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * The rules that span fields: references, uniqueness, clashes and mode constraints. Fields that
 * failed to parse are null here and were already reported, so every rule skips them.
 */
final class ConfigRules {

    private ConfigRules() {
    }

    static void check(BatonConfig config, List<ConfigError> errors) {
        if (config.cluster() != null) {
            unique(config.cluster().nodes(), NodeConfig::id, "cluster.nodes", "id", "node id", errors);
            unique(config.cluster().nodes(), node -> node.clusterAddress() == null ? null : node.clusterAddress().toString(),
                    "cluster.nodes", "address", "cluster address", errors);
            int nodes = config.cluster().nodes().size();
            if (nodes > 1 && config.cluster().keyFile() == null) {
                errors.add(new ConfigError("cluster.key-file", "a cluster of " + nodes + " nodes must have a shared"
                        + " key, or anyone who reaches a cluster port could join it: make one with `baton keygen"
                        + " /etc/baton/cluster.key`, copy it to every node and name it here"));
            }
        }
        unique(config.vips(), VipConfig::name, "vips", "name", "VIP name", errors);
        unique(config.vips(), VipConfig::address, "vips", "address", "VIP address", errors);
        unique(config.services(), VirtualService::name, "services", "name", "service name", errors);

        Map<String, String> listenerOwners = new HashMap<>();
        for (int i = 0; i < config.services().size(); i++) {
            VirtualService service = config.services().get(i);
            String path = "services[" + i + "]";
            service(config, service, path, listenerOwners, errors);
        }
        nftNames(config, errors);
    }

    /**
     * Kernel-mode services become nftables objects whose names keep letters, digits and
     * underscores only: two names that differ elsewhere would be one object, and nft would refuse
     * the whole table. Refused here, with both paths.
     */
    private static void nftNames(BatonConfig config, List<ConfigError> errors) {
        Map<String, String> counters = new HashMap<>();
        Map<String, String> counterOwners = new HashMap<>();
        Map<String, String[]> chains = new HashMap<>();
        for (int i = 0; i < config.services().size(); i++) {
            VirtualService service = config.services().get(i);
            if (service.name() == null || service.mode() == null || !service.mode().isKernel()) {
                continue;
            }
            for (int j = 0; j < service.servers().size(); j++) {
                RealServer server = service.servers().get(j);
                if (server.name() == null) {
                    continue;
                }
                String path = "services[" + i + "].servers[" + j + "]";
                String name = NftNames.counter(service.name(), server.name());
                String other = counters.putIfAbsent(name, path);
                String owner = service.name() + "/" + server.name();
                String otherOwner = counterOwners.putIfAbsent(name, owner);
                if (other != null && !owner.equals(otherOwner)) { // the same names are reported as duplicates
                    errors.add(new ConfigError(path + ".name", "service \"" + service.name() + "\" server \""
                            + server.name() + "\" would have the nftables counter \"" + name + "\" of " + other
                            + ": nft names keep letters, digits and _ only (other characters become _, and the"
                            + " service and server are joined by __); rename one"));
                }
            }
            VipConfig vip = service.vip() == null ? null : config.vip(service.vip()).orElse(null);
            if (service.mode() == ForwardingMode.L4_DR && vip != null && vip.iface() != null) {
                String chain = NftNames.ingressChain(vip.iface());
                String[] before = chains.putIfAbsent(chain, new String[] {vip.iface(), "services[" + i + "].vip"});
                if (before != null && !before[0].equals(vip.iface())) {
                    errors.add(new ConfigError("services[" + i + "].vip", "interface " + vip.iface() + " would have the"
                            + " nftables chain \"" + chain + "\" of interface " + before[0] + " (" + before[1] + "):"
                            + " nft names keep letters, digits and _ only"));
                }
            }
        }
    }

    private static void service(BatonConfig config, VirtualService service, String path,
                                Map<String, String> listenerOwners, List<ConfigError> errors) {
        VipConfig vip = null;
        if (service.vip() != null) {
            vip = config.vip(service.vip()).orElse(null);
            if (vip == null) {
                errors.add(new ConfigError(path + ".vip", "\"" + service.vip() + "\" is not a VIP defined under vips"
                        + (config.vips().isEmpty() ? "" : " (defined: " + String.join(", ",
                        config.vips().stream().map(VipConfig::name).filter(n -> n != null).toList()) + ")")));
            }
        }
        Set<Integer> seenPorts = new HashSet<>();
        for (Integer port : service.ports()) {
            if (!seenPorts.add(port)) {
                errors.add(new ConfigError(path + ".ports", "port " + port + " is listed twice"));
                continue;
            }
            if (vip != null && vip.address() != null) {
                String listener = vip.address() + ":" + port;
                String owner = listenerOwners.putIfAbsent(listener, service.name());
                if (owner != null) {
                    errors.add(new ConfigError(path + ".ports", "VIP " + listener + " is already used by service \""
                            + owner + "\""));
                }
            }
        }

        ForwardingMode mode = service.mode();
        if (mode != null && mode.isKernel()) {
            if (service.l7Mode() != null) {
                errors.add(new ConfigError(path + ".l7", "only applies to l7-snat services, not " + mode.configName()));
            }
            if (service.scheduler() != null && service.scheduler() != SchedulerKind.MAGLEV) {
                errors.add(new ConfigError(path + ".scheduler", "\"" + service.scheduler().configName()
                        + "\" is user-space only: " + mode.configName() + " runs in the kernel and schedules with maglev"));
            }
        }
        l4Addresses(config, service, vip, path, errors);
        Persistence persistence = service.persistence();
        if (persistence != null && persistence.type() == PersistenceType.COOKIE
                && (mode != ForwardingMode.L7_SNAT || service.l7Mode() != L7Mode.HTTP) && mode != null) {
            errors.add(new ConfigError(path + ".persistence.type", "cookie persistence needs mode l7-snat with l7: http"));
        }

        unique(service.servers(), RealServer::name, path + ".servers", "name", "server name", errors);
        for (int j = 0; j < service.servers().size(); j++) {
            RealServer server = service.servers().get(j);
            HostPort address = server.address();
            if (mode == ForwardingMode.L4_DR && address != null && address.hasPort() && !service.ports().isEmpty()) {
                String where = path + ".servers[" + j + "].address";
                if (service.ports().size() > 1) {
                    errors.add(new ConfigError(where, "l4-dr cannot map ports: with several service ports give the"
                            + " address without a port (\"" + address.host() + "\")"));
                } else if (!address.port().equals(service.ports().get(0))) {
                    errors.add(new ConfigError(where, "l4-dr cannot map ports: real-server port " + address.port()
                            + " must equal the service port " + service.ports().get(0)
                            + " (the real server answers on the VIP itself)"));
                }
            }
        }
    }

    /** nat-gateway (l4-nat) and snat-source (l4-snat): which floating addresses the kernel modes use. */
    private static void l4Addresses(BatonConfig config, VirtualService service, VipConfig vip, String path,
                                    List<ConfigError> errors) {
        ForwardingMode mode = service.mode();
        if (service.natGateway() != null && mode != ForwardingMode.L4_NAT && mode != null) {
            errors.add(new ConfigError(path + ".nat-gateway", "only applies to l4-nat services, not " + mode.configName()));
        }
        if (service.snatSource() != null && mode != ForwardingMode.L4_SNAT && mode != null) {
            errors.add(new ConfigError(path + ".snat-source", "only applies to l4-snat services, not " + mode.configName()));
        }
        if (mode == ForwardingMode.L4_NAT && service.natGateway() == null) {
            errors.add(new ConfigError(path + ".nat-gateway", "l4-nat needs the VIP that the real servers use as their"
                    + " gateway (a floating address on the server-side interface), so that replies come back through"
                    + " the active node"));
        }
        for (String field : List.of("nat-gateway", "snat-source")) {
            String name = field.equals("nat-gateway") ? service.natGateway() : service.snatSource();
            if (name == null) {
                continue;
            }
            VipConfig named = config.vip(name).orElse(null);
            if (named == null) {
                errors.add(new ConfigError(path + "." + field, "\"" + name + "\" is not a VIP defined under vips"));
            } else if (field.equals("nat-gateway") && vip != null && named.name() != null
                    && named.name().equals(vip.name())) {
                errors.add(new ConfigError(path + "." + field, "must be another VIP than the service's own (\""
                        + name + "\"): the real servers' gateway lives on the server-side interface"));
            }
        }
        if (mode == ForwardingMode.L4_NAT || mode == ForwardingMode.L4_SNAT) {
            for (int j = 0; j < service.servers().size(); j++) {
                HostPort address = service.servers().get(j).address();
                if (address != null && address.hasPort() && service.ports().size() > 1) {
                    errors.add(new ConfigError(path + ".servers[" + j + "].address", mode.configName()
                            + " maps to one real-server port only with one service port: with several ports give the"
                            + " address without a port (\"" + address.host() + "\"), each port is kept"));
                }
            }
        }
    }

    /** Reports every element whose key repeats an earlier one's. */
    private static <T> void unique(List<T> items, Function<T, String> key, String listPath, String field,
                                   String what, List<ConfigError> errors) {
        Map<String, Integer> firstIndex = new HashMap<>();
        for (int i = 0; i < items.size(); i++) {
            String value = key.apply(items.get(i));
            if (value == null) {
                continue;
            }
            Integer first = firstIndex.putIfAbsent(value, i);
            if (first != null) {
                errors.add(new ConfigError(listPath + "[" + i + "]." + field, "duplicate " + what + " \"" + value
                        + "\" (first used at " + listPath + "[" + first + "])"));
            }
        }
    }
}
