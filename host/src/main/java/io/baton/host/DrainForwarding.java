package io.baton.host;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The new holder's half of a hand-over without a lost connection. Once this node announces the
 * VIPs, every client's packets come here, those of the connections the previous holder accepted
 * too (a handshake it answered a moment before the switch, a keep-alive connection, a transfer);
 * this node has no socket for them and would reset them. While the previous holder still serves
 * them (it says so: {@code MemberInfo.draining}), an nft {@code netdev} ingress chain on each VIP
 * interface sends such packets on to it at layer 2, unchanged but for the MACs; the connections
 * opened here (their SYN came here) stay here. As Beamer's daisy chaining does for a server pool.
 *
 * <p>The table is {@value #TABLE}; its ingress chains run before the kernel data plane's (DR), so
 * that the previous holder's DR flows go on through it as well.
 */
public final class DrainForwarding implements AutoCloseable {

    /**
     * Where the connections of a peer go, on one VIP interface: those to {@code vips} on the
     * services' {@code ports}. Only those: a reply that a real server sends to a VIP this node
     * uses as its source address ({@code l4-snat}) comes to another port, and stays here.
     */
    public record Route(String iface, String ownMac, String peerMac, List<String> vips, List<Integer> ports) {
        public Route {
            vips = List.copyOf(vips);
            ports = List.copyOf(ports);
        }
    }

    static final String TABLE = "baton_handover";
    /** Before the data plane's netdev chains (-300). */
    static final int PRIORITY = -500;
    /**
     * How long a connection opened here is remembered as this node's: longer than the peer may
     * linger ({@code HaStateMachine.LINGER_LIMIT}), after which the table is gone anyway.
     */
    static final Duration REMEMBERED = Duration.ofMinutes(1);
    /** Connections opened here while forwarding: beyond this many, new ones could be sent to the peer. */
    static final int MAX_OWN_CONNECTIONS = 262_144;

    /** Removes the table, whether there is one or not. */
    static final String REMOVE = "add table netdev " + TABLE + "\ndelete table netdev " + TABLE + "\n";

    private static final Pattern INTERFACE = Pattern.compile("[A-Za-z0-9_.@-]{1,15}");
    private static final Pattern MAC = Pattern.compile("[0-9a-f]{2}(:[0-9a-f]{2}){5}");
    private static final Pattern IPV4 = Pattern.compile("(\\d{1,3}\\.){3}\\d{1,3}");
    private static final Logger LOG = LogManager.getLogger(DrainForwarding.class);

    private final Nftables nft;
    /** What is in force; read without the lock, which a hung nft may hold. */
    private volatile List<Route> routes = List.of();

    public DrainForwarding(Nftables nft) {
        this.nft = nft;
    }

    /**
     * Forwards as {@code wanted} says from now on (nothing when empty). The connections already
     * known as this node's stay so while routes change.
     *
     * @throws IOException when nft refused; the previous routes are in force then
     */
    public synchronized void forward(List<Route> wanted) throws IOException {
        wanted = List.copyOf(wanted);
        if (wanted.equals(routes)) {
            return;
        }
        if (wanted.isEmpty()) {
            removeTable();
            return;
        }
        nft.apply(script(routes, wanted));
        List<Route> before = routes;
        routes = wanted;
        if (before.isEmpty()) {
            LOG.debug("nft table netdev {} in place: {}", TABLE, wanted);
        }
    }

    /** Removes the table if this node, or an earlier run of it, left one. */
    public synchronized void removeLeftover() {
        try {
            removeTable();
        } catch (IOException e) {
            LOG.error("cannot remove nft table netdev {}: {}", TABLE, e.getMessage());
        }
    }

    private void removeTable() throws IOException {
        long forwarded = routes.isEmpty() ? 0 : forwardedPackets();
        nft.apply(REMOVE);
        if (!routes.isEmpty()) {
            LOG.info("no longer sending on the packets of connections a peer serves ({} packets went on so far)",
                    forwarded);
        }
        routes = List.of();
    }

    private long forwardedPackets() {
        try {
            return nft.counters("netdev", TABLE).values().stream().mapToLong(counter -> counter[0]).sum();
        } catch (IOException e) {
            return -1;
        }
    }

    /** One transaction: the table and its set if absent, each wanted chain refilled, the others gone. */
    static String script(List<Route> before, List<Route> wanted) {
        StringBuilder out = new StringBuilder();
        out.append("add table netdev ").append(TABLE).append('\n');
        out.append("add set netdev ").append(TABLE).append(" here { type ipv4_addr . inet_service . ipv4_addr .")
                .append(" inet_service; flags dynamic,timeout; timeout ").append(REMEMBERED.toSeconds())
                .append("s; size ").append(MAX_OWN_CONNECTIONS).append("; }\n");
        List<String> kept = new ArrayList<>();
        for (Route route : wanted) {
            check(route);
            String chain = chain(route.iface());
            kept.add(chain);
            out.append("add chain netdev ").append(TABLE).append(' ').append(chain)
                    .append(" { type filter hook ingress device \"").append(route.iface()).append("\" priority ")
                    .append(PRIORITY).append("; policy accept; }\n");
            out.append("flush chain netdev ").append(TABLE).append(' ').append(chain).append('\n');
            out.append("add counter netdev ").append(TABLE).append(' ').append(chain).append('\n');
            String vips = "ip daddr { " + String.join(", ", route.vips()) + " } tcp dport { "
                    + String.join(", ", route.ports().stream().map(String::valueOf).toList()) + " } ";
            String flow = "ip saddr . tcp sport . ip daddr . tcp dport";
            String rule = "add rule netdev " + TABLE + " " + chain + " ";
            // a connection opened now is this node's: its SYN came here
            out.append(rule).append(vips).append("tcp flags & (syn | ack | fin | rst) == syn update @here { ")
                    .append(flow).append(" } accept\n");
            out.append(rule).append(vips).append(flow).append(" @here accept\n");
            out.append(rule).append(vips).append("counter name ").append(chain).append(" ether saddr set ")
                    .append(route.ownMac()).append(" ether daddr set ").append(route.peerMac())
                    .append(" fwd to \"").append(route.iface()).append("\"\n");
        }
        for (Route route : before) {
            String chain = chain(route.iface());
            if (!kept.contains(chain)) {
                out.append("delete chain netdev ").append(TABLE).append(' ').append(chain).append('\n');
                out.append("delete counter netdev ").append(TABLE).append(' ').append(chain).append('\n');
            }
        }
        return out.toString();
    }

    /** What goes into the script is a name, MACs and addresses, and nothing else (a peer said some of it). */
    private static void check(Route route) {
        if (!INTERFACE.matcher(route.iface()).matches()) {
            throw new IllegalArgumentException("not an interface name: " + route.iface());
        }
        for (String mac : List.of(route.ownMac(), route.peerMac())) {
            if (!MAC.matcher(mac).matches()) {
                throw new IllegalArgumentException("not a MAC address: " + mac);
            }
        }
        if (route.vips().isEmpty()) {
            throw new IllegalArgumentException("no VIP on " + route.iface());
        }
        for (String vip : route.vips()) {
            if (!IPV4.matcher(vip).matches()) {
                throw new IllegalArgumentException("not an IPv4 address: " + vip);
            }
        }
        if (route.ports().isEmpty() || route.ports().stream().anyMatch(port -> port < 1 || port > 65_535)) {
            throw new IllegalArgumentException("ports must be 1-65535, at least one: " + route.ports());
        }
    }

    private static String chain(String iface) {
        return "in_" + iface.replaceAll("[^A-Za-z0-9_]", "_");
    }

    public List<Route> routes() {
        return routes;
    }

    /** The packets sent on to draining peers so far, by interface chain. */
    public synchronized Map<String, long[]> counters() throws IOException {
        return nft.counters("netdev", TABLE);
    }

    @Override
    public synchronized void close() {
        if (!routes.isEmpty()) {
            removeLeftover();
        }
    }
}
