package io.baton.forwarding.kernel;

import io.baton.config.BalanceMode;
import io.baton.config.BatonConfig;
import io.baton.config.ForwardingMode;
import io.baton.config.PersistenceType;
import io.baton.config.RealServer;
import io.baton.config.VipConfig;
import io.baton.config.VirtualService;
import io.baton.forwarding.scheduler.MaglevTable;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiPredicate;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Turns the kernel-mode services ({@code l4-dr}, {@code l4-nat}, {@code l4-snat}) into one nftables
 * script that replaces Baton's two tables in a single transaction ({@code nft -f -}). Pure: the
 * same configuration, health and addresses give the same text on every node.
 *
 * <p>Every service spreads clients over a weighted Maglev table of its usable servers, looked up
 * by {@code jhash} of the client (address and port, or the address alone with source-ip
 * persistence) with a seed taken from the cluster and service names. The table is sized for every
 * configured server and kept at that size, so a server going down moves only its own slots, and
 * two nodes send an established flow to the same server: flows survive a failover without a
 * connection table.
 *
 * <ul>
 *   <li>{@code l4-dr}: table {@code netdev baton}, a chain at ingress of the VIP interface sets the
 *       source MAC to this node's, the destination MAC from the table, and forwards the frame out
 *       of the same interface (one rule per server, with its counter).</li>
 *   <li>{@code l4-nat} / {@code l4-snat}: table {@code ip baton}, DNAT in prerouting from the table;
 *       l4-snat also SNATs to its floating source address in postrouting; a forward chain counts
 *       each server's packets.</li>
 * </ul>
 */
public final class KernelRuleset {

    static final String TABLE = "baton";

    private KernelRuleset() {
    }

    /** One server in a service's table. */
    public record TableServer(String name, String address, Integer port, String mac, int slots, String counter) {
    }

    /** A kernel-mode service as programmed: the servers in its table, and why the others are not. */
    public record Plan(VirtualService service, VipConfig vip, String sourceAddress, long seed, int tableSize,
                       List<TableServer> servers, int[] slots, Map<String, String> left) {

        /** True when the service has servers to send to. */
        public boolean forwarding() {
            return !servers.isEmpty();
        }
    }

    /**
     * Plans every kernel-mode service.
     *
     * @param usable  whether a server (service name, server name) may take traffic: healthy, online
     * @param macs    a server address's MAC on the VIP's LAN (l4-dr), or null when unknown
     */
    public static List<Plan> plan(BatonConfig config, BiPredicate<String, String> usable, Function<String, String> macs) {
        List<Plan> plans = new ArrayList<>();
        for (VirtualService service : config.services()) {
            if (!service.mode().isKernel()) {
                continue;
            }
            VipConfig vip = config.vip(service.vip()).orElseThrow();
            String source = service.mode() == ForwardingMode.L4_SNAT
                    ? config.vip(service.snatSource() == null ? service.vip() : service.snatSource())
                    .orElseThrow().address()
                    : null;
            Map<String, String> left = new LinkedHashMap<>();
            List<RealServer> candidates = new ArrayList<>();
            for (RealServer server : service.servers()) {
                if (!usable.test(service.name(), server.name())) {
                    left.put(server.name(), "not usable (down, drained or halted)");
                } else if (service.mode() == ForwardingMode.L4_DR && macs.apply(server.address().host()) == null) {
                    left.put(server.name(), "its MAC on " + vip.iface() + " is not known (no ARP answer from "
                            + server.address().host() + ")");
                } else {
                    candidates.add(server);
                }
            }
            if (service.balance() == BalanceMode.FAILOVER && candidates.size() > 1) {
                for (RealServer standby : candidates.subList(1, candidates.size())) {
                    left.put(standby.name(), "standby: failover balance sends everything to " + candidates.get(0).name());
                }
                candidates = List.of(candidates.get(0));
            }
            int size = MaglevTable.tableSize(service.servers().size());
            int[] slots = new int[0];
            List<TableServer> servers = new ArrayList<>();
            if (!candidates.isEmpty()) {
                slots = MaglevTable.build(candidates.stream().map(RealServer::name).toList(),
                        candidates.stream().map(RealServer::weight).toList(), size).slots();
                int[] counts = new int[candidates.size()];
                for (int slot : slots) {
                    counts[slot]++;
                }
                for (int i = 0; i < candidates.size(); i++) {
                    RealServer server = candidates.get(i);
                    servers.add(new TableServer(server.name(), server.address().host(), server.address().port(),
                            service.mode() == ForwardingMode.L4_DR ? macs.apply(server.address().host()) : null,
                            counts[i], counterName(service, server)));
                }
            }
            plans.add(new Plan(service, vip, source, seed(config.cluster().name(), service.name()), size,
                    List.copyOf(servers), slots, Map.copyOf(left)));
        }
        return List.copyOf(plans);
    }

    /**
     * The whole nftables script for these plans: each of Baton's tables is created (if missing),
     * deleted and, when it has rules, declared anew, all in one transaction.
     *
     * @param ownMacs this node's MAC on an interface (for l4-dr's source MAC)
     */
    public static String script(List<Plan> plans, Function<String, String> ownMacs) {
        StringBuilder out = new StringBuilder(removal());
        List<Plan> dr = plans.stream().filter(plan -> plan.service().mode() == ForwardingMode.L4_DR
                && plan.forwarding()).toList();
        List<Plan> nat = plans.stream().filter(plan -> plan.service().mode() != ForwardingMode.L4_DR
                && plan.forwarding()).toList();
        if (!dr.isEmpty()) {
            out.append("table netdev ").append(TABLE).append(" {\n");
            counters(out, dr);
            Map<String, List<Plan>> byInterface = dr.stream()
                    .collect(Collectors.groupingBy(plan -> plan.vip().iface(), LinkedHashMap::new, Collectors.toList()));
            for (Map.Entry<String, List<Plan>> entry : byInterface.entrySet()) {
                String iface = entry.getKey();
                out.append("  chain ").append(chainName(iface)).append(" {\n");
                out.append("    type filter hook ingress device \"").append(iface).append("\" priority -300; policy accept;\n");
                for (Plan plan : entry.getValue()) {
                    String match = match(plan);
                    out.append("    ").append(match).append(" ether saddr set ").append(ownMacs.apply(iface))
                            .append(" ether daddr set ").append(lookup(plan, server -> server.mac())).append("\n");
                    for (TableServer server : plan.servers()) {
                        out.append("    ").append(match).append(" ether daddr ").append(server.mac())
                                .append(" counter name \"").append(server.counter()).append("\" fwd to \"").append(iface)
                                .append("\"\n");
                    }
                }
                out.append("  }\n");
            }
            out.append("}\n");
        }
        if (!nat.isEmpty()) {
            out.append("table ip ").append(TABLE).append(" {\n");
            counters(out, nat);
            out.append("  chain prerouting {\n");
            out.append("    type nat hook prerouting priority dstnat; policy accept;\n");
            for (Plan plan : nat) {
                boolean withPorts = plan.servers().stream().anyMatch(server -> server.port() != null);
                int servicePort = plan.service().ports().get(0);
                String target = plan.servers().size() == 1
                        ? natTarget(plan.servers().get(0), withPorts, servicePort, ":")
                        : lookup(plan, server -> natTarget(server, withPorts, servicePort, " . "));
                out.append("    ").append(match(plan)).append(" dnat ip to ").append(target).append("\n");
            }
            out.append("  }\n");
            List<Plan> snat = nat.stream().filter(plan -> plan.sourceAddress() != null).toList();
            if (!snat.isEmpty()) {
                out.append("  chain postrouting {\n");
                out.append("    type nat hook postrouting priority srcnat; policy accept;\n");
                for (Plan plan : snat) {
                    for (int port : plan.service().ports()) {
                        out.append("    ct original ip daddr ").append(plan.vip().address())
                                .append(" meta l4proto tcp ct original proto-dst ").append(port)
                                .append(" ct status dnat snat ip to ").append(plan.sourceAddress()).append("\n");
                    }
                }
                out.append("  }\n");
            }
            out.append("  chain forward {\n");
            out.append("    type filter hook forward priority filter; policy accept;\n");
            for (Plan plan : nat) {
                if (plan.sourceAddress() == null) {
                    orphanReplies(out, plan);
                }
            }
            for (Plan plan : nat) {
                for (TableServer server : plan.servers()) {
                    out.append("    ct original ip daddr ").append(plan.vip().address())
                            .append(" ct direction original ip daddr ").append(server.address())
                            .append(" counter name \"").append(server.counter()).append("\"\n");
                }
            }
            out.append("  }\n");
            if (!snat.isEmpty()) {
                out.append("  chain input {\n");
                out.append("    type filter hook input priority filter; policy accept;\n");
                snat.forEach(plan -> orphanReplies(out, plan));
                out.append("  }\n");
            }
            out.append("}\n");
        }
        return out.toString();
    }

    /**
     * Right after a failover this node has no conntrack entry for a flow the peer translated. A
     * client packet then creates it (the same hash picks the same server); a server's packet that
     * arrives first would instead open a wrong, untranslated entry (or, to the SNAT address, draw a
     * reset). Such a packet (from a real server's service port, in conntrack's original
     * direction) is dropped: the server sends it again once the client's packet has set the flow up.
     */
    private static void orphanReplies(StringBuilder out, Plan plan) {
        for (TableServer server : plan.servers()) {
            List<Integer> ports = server.port() != null ? List.of(server.port()) : plan.service().ports();
            out.append("    ip saddr ").append(server.address()).append(" tcp sport ").append(set(ports))
                    .append(" ct direction original drop\n");
        }
    }

    /** Removes Baton's tables (creating them first makes the delete valid when they are absent). */
    public static String removal() {
        return "table netdev " + TABLE + "\ndelete table netdev " + TABLE + "\n"
                + "table ip " + TABLE + "\ndelete table ip " + TABLE + "\n";
    }

    private static void counters(StringBuilder out, List<Plan> plans) {
        for (Plan plan : plans) {
            for (TableServer server : plan.servers()) {
                out.append("  counter ").append(server.counter()).append(" { }\n");
            }
        }
    }

    private static String match(Plan plan) {
        return "ip daddr " + plan.vip().address() + " tcp dport " + set(plan.service().ports());
    }

    private static String set(List<Integer> ports) {
        return ports.size() == 1 ? String.valueOf(ports.get(0))
                : ports.stream().map(String::valueOf).collect(Collectors.joining(", ", "{ ", " }"));
    }

    /** The target of one slot: {@code jhash … mod N seed S map { slots : value }}, or the value alone. */
    private static String lookup(Plan plan, Function<TableServer, String> value) {
        if (plan.servers().size() == 1) {
            return value.apply(plan.servers().get(0));
        }
        boolean sourceIpOnly = plan.service().persistence() != null
                && plan.service().persistence().type() == PersistenceType.SOURCE_IP;
        String key = sourceIpOnly ? "ip saddr" : "ip saddr . tcp sport";
        StringBuilder map = new StringBuilder();
        int[] slots = plan.slots();
        int start = 0;
        for (int i = 1; i <= slots.length; i++) {
            if (i == slots.length || slots[i] != slots[start]) {
                map.append(map.length() == 0 ? "" : ", ").append(start == i - 1 ? String.valueOf(start) : start + "-" + (i - 1))
                        .append(" : ").append(value.apply(plan.servers().get(slots[start])));
                start = i;
            }
        }
        return "jhash " + key + " mod " + slots.length + " seed 0x" + Long.toHexString(plan.seed()) + " map { " + map + " }";
    }

    /** A DNAT target: the address, with a port when any server of the service maps one. */
    private static String natTarget(TableServer server, boolean withPorts, int servicePort, String separator) {
        if (!withPorts) {
            return server.address();
        }
        return server.address() + separator + (server.port() == null ? servicePort : server.port());
    }

    /** A 32-bit hash seed from the configuration alone: the same on every node. */
    static long seed(String cluster, String service) {
        int hash = 0x811C9DC5;
        for (byte b : (cluster + "/" + service).getBytes(StandardCharsets.UTF_8)) {
            hash ^= b & 0xFF;
            hash *= 0x01000193;
        }
        return hash & 0xFFFFFFFFL;
    }

    static String chainName(String iface) {
        return io.baton.config.NftNames.ingressChain(iface);
    }

    /** nft object names: letters, digits and underscores, from the service and server names. */
    public static String counterName(VirtualService service, RealServer server) {
        return io.baton.config.NftNames.counter(service.name(), server.name());
    }
}
