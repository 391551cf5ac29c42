package io.baton.appliance.admin;

import io.baton.appliance.ha.HaController;
import io.baton.cluster.Decision;
import io.baton.cluster.MemberInfo;
import io.baton.cluster.history.ConfigHistory;
import io.baton.cluster.history.ServerStates;
import io.baton.config.BatonConfig;
import io.baton.config.ForwardingMode;
import io.baton.config.HostPort;
import io.baton.config.NodeConfig;
import io.baton.config.PersistenceType;
import io.baton.config.RealServer;
import io.baton.config.StoredConfig;
import io.baton.config.VipConfig;
import io.baton.config.VirtualService;
import io.baton.forwarding.Backend;
import io.baton.forwarding.ServicePool;
import io.baton.forwarding.kernel.KernelDataPlane;
import io.baton.forwarding.kernel.KernelRuleset;
import io.baton.forwarding.l7.L7Engine;
import io.baton.health.HealthMonitor;

import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What {@code GET /api/v1/status} answers and {@code baton status} prints. The same records are
 * written by the node and read by the CLI.
 *
 * @param clustering true when the node runs its cluster membership
 * @param clients    this node's client connections on its {@code l7-snat} services, against its
 *                   {@code max-connections}
 * @param warnings   split brain, revision mismatch and VIP problems, for an operator to act on
 */
public record StatusReport(
        String cluster,
        String node,
        boolean clustering,
        ConfigSummary config,
        List<NodeStatus> nodes,
        List<VipStatus> vips,
        List<ServiceStatus> services,
        Failover lastFailover,
        Clients clients,
        List<String> warnings) {

    /** Client connections open now, the most allowed, and those refused at that limit. */
    public record Clients(int open, int max, long refused) {
    }

    /**
     * An {@code l7-snat} service's limits and what they did.
     *
     * @param clients  client connections open now; {@code maxClients} its limit; {@code refusedClients} refused at it
     * @param waiting  requests (tcp: connections) in the queue now, of at most {@code queue}
     * @param queued   ever queued; {@code queueFull} answered 503 (closed) for a full queue;
     *                 {@code queueTimeouts} after the queue timeout
     */
    public record LimitStatus(int clients, int maxClients, long refusedClients, int serverMaxConnections, int waiting,
                              int queue, String queueTimeout, long queued, long queueFull, long queueTimeouts) {
    }

    /** Holds the VIPs and forwards. */
    public static final String ROLE_ACTIVE = "ACTIVE";
    /** In the cluster, ready to take over. */
    public static final String ROLE_PASSIVE = "PASSIVE";
    /** In the cluster, not ready yet (it has not compared its config history with the cluster's). */
    public static final String ROLE_STARTING = "STARTING";
    /** In the cluster and stopping on purpose. */
    public static final String ROLE_STOPPING = "STOPPING";
    /** In the cluster and handing the active role over on request. */
    public static final String ROLE_HANDING_OVER = "HANDING_OVER";
    /** Not fit to hold the VIPs: its link is down, or another reason it gives ({@code reason}). */
    public static final String ROLE_FAULT = "FAULT";
    /** Configured, not in this node's view, and it said it was stopping when it left: stopped on purpose. */
    public static final String ROLE_LEFT = "LEFT";
    /** Configured and not in this node's view without having said goodbye: down, or cut off. */
    public static final String ROLE_LOST = "LOST";
    /** Health of a server that no check has judged yet. */
    public static final String HEALTH_UNKNOWN = "unknown";

    /** A health verdict another node's checks reached ({@code up} or {@code down}), and that node. */
    public record PeerHealth(String health, String from) {
    }

    /** When the active role last moved. */
    public record Failover(String at, String from, String to, String reason, long epoch) {
    }

    /**
     * The applied config, and beside it the operators' runtime states of real servers.
     *
     * @param serverStates     the version of the cluster's server states (drain / halt / online)
     * @param serverStatesSet  how many servers have one
     */
    public record ConfigSummary(long revision, String checksum, String appliedAt, String source, long serverStates,
                                int serverStatesSet) {
    }

    /**
     * @param revision the config revision the node runs; null when unknown
     * @param checksum that revision's checksum; null when unknown
     * @param history  how its config history compares with the cluster's ({@code in sync},
     *                 {@code behind}, {@code ahead}, {@code diverged}, {@code not compared yet}); null when unknown
     * @param historyReason why it is behind or diverged; null otherwise
     * @param reason   why it is FAULT, LEFT or LOST (with since when); null for the other roles
     */
    public record NodeStatus(String id, String role, String reason, int priority, Long revision, String checksum,
                             String history, String historyReason, String clusterAddress, String adminAddress,
                             boolean self) {
    }

    /** @param holder the node holding the VIP; null when no node holds it */
    public record VipStatus(String name, String address, String iface, String holder) {
    }

    /**
     * @param dataPlane what forwards the service's traffic on this node, and whether it runs
     * @param listeners one line per VIP:port, with its error if it could not be bound
     * @param stats     counters over all its servers; null when no data plane runs the service
     * @param limits    its limits and what they did; null for a kernel-mode service
     * @param certificates the certificates it terminates TLS with; empty for none
     */
    public record ServiceStatus(String name, String vip, String address, List<Integer> ports, String mode,
                                String balance, String scheduler, String persistence, String dataPlane,
                                List<String> listeners, Stats stats, LimitStatus limits, List<ServerStatus> servers,
                                List<CertificateStatus> certificates) {
    }

    /** A certificate is renewed at the latest this long before it expires: warned of from then on. */
    public static final java.time.Duration CERTIFICATE_WARNING = java.time.Duration.ofDays(14);

    /**
     * @param file     its certificate file
     * @param names    the SNI names it answers for
     * @param notAfter when it expires
     * @param warning  {@code expires in 9 days: renew it}, {@code EXPIRED}; null while it has more than 14 days
     */
    public record CertificateStatus(String file, List<String> names, String notAfter, long daysLeft, String warning) {

        static CertificateStatus of(io.baton.forwarding.l7.TlsTermination.Served served, java.time.Instant now) {
            java.time.Duration left = java.time.Duration.between(now, served.notAfter());
            String warning = left.isNegative() ? "EXPIRED: clients refuse it; renew it and apply"
                    : left.compareTo(CERTIFICATE_WARNING) <= 0 ? "expires in " + left.toDays() + " day(s): renew it"
                    : null;
            return new CertificateStatus(served.certificateFile(), served.names(),
                    served.notAfter().truncatedTo(ChronoUnit.SECONDS).toString(), left.toDays(), warning);
        }
    }

    /**
     * @param health    {@code up}, {@code down} or {@code unknown} (no verdict yet, or no checks)
     * @param lastCheck the last check's result and time, e.g. {@code ok: HTTP 200 at ...}; null before the first
     * @param stats     null when no data plane runs the service
     * @param state     the operator's state in force ({@code online}, {@code drain}, {@code halt})
     * @param stateSetBy who set it at runtime, and when ({@code baton drain}); null when the config decides
     * @param maxConnections the most connections it gets at once; null for a kernel-mode service
     */
    public record ServerStatus(String name, String address, int weight, String state, String stateSetBy,
                               String health, String lastCheck, Stats stats, Integer maxConnections,
                               KernelEntry kernel) {
    }

    /**
     * A real server of a kernel-mode service: its share of the Maglev table and its nftables counters
     * (packets and bytes sent to it since this node began programming it).
     *
     * @param note why it is not in the table; null when it is
     */
    public record KernelEntry(boolean inTable, int slots, int tableSize, String mac, long packets, long bytes,
                              String note) {
    }

    /** Counters of a service or server (in http mode a connection is a request). */
    public record Stats(long active, long total, long bytesIn, long bytesOut, long errors) {

        static Stats of(Backend backend) {
            return new Stats(backend.activeConnections(), backend.totalConnections(), backend.bytesIn(),
                    backend.bytesOut(), backend.errors());
        }

        Stats plus(Stats other) {
            return new Stats(active + other.active, total + other.total, bytesIn + other.bytesIn,
                    bytesOut + other.bytesOut, errors + other.errors);
        }
    }

    /**
     * The status as this node sees it. Its own admin address is where it really listens (a
     * command-line override may have moved it from the configured one).
     */
    public static StatusReport of(String nodeId, StoredConfig applied, HostPort adminAddress, L7Engine l7,
                                  HealthMonitor monitor, HaController ha, KernelDataPlane kernel,
                                  ConfigHistory history, java.util.function.BiFunction<String, String, PeerHealth> peerVerdict,
                                  Map<String, ServerStates.Entry> serverStates, long serverStatesVersion) {
        BatonConfig config = applied.config();
        Decision decision = ha.decision();
        List<String> view = ha.members();
        Map<String, MemberInfo> infos = ha.infos();
        List<String> warnings = new ArrayList<>();
        List<NodeStatus> nodes = new ArrayList<>();
        Map<String, MemberInfo> departed = ha.departed();
        Map<String, java.time.Instant> departedAt = ha.departedAt();
        List<String> lost = new ArrayList<>();
        for (NodeConfig node : config.cluster().nodes()) {
            boolean isSelf = node.id().equals(nodeId);
            MemberInfo info = infos.get(node.id());
            String role;
            String reason = null;
            java.time.Instant since = departedAt.get(node.id());
            if (isSelf && ha.linkDown() != null) {
                role = ROLE_FAULT;
                reason = "link down on " + ha.linkDown();
            } else if (!view.contains(node.id()) && !isSelf) {
                MemberInfo last = departed.get(node.id());
                if (last != null && last.stopping() || ha.leftOnPurpose(node.id())) {
                    role = ROLE_LEFT;
                    reason = (last != null && last.stopping() ? "stopped" : "left the cluster") + " on purpose"
                            + (since == null ? "" : " at " + since.truncatedTo(ChronoUnit.MILLIS));
                } else {
                    role = ROLE_LOST;
                    reason = since == null ? "not seen since this node started"
                            : "not seen since " + since.truncatedTo(ChronoUnit.MILLIS);
                    lost.add(node.id());
                }
            } else if (node.id().equals(decision.active())) {
                role = ROLE_ACTIVE;
            } else if (info != null && !info.ready()) {
                reason = info.unready();
                role = info.stopping() ? ROLE_STOPPING
                        : reason.startsWith("handed the active role over") ? ROLE_HANDING_OVER
                        : reason.startsWith("has not yet compared") ? ROLE_STARTING
                        : ROLE_FAULT;
            } else {
                role = ROLE_PASSIVE;
            }
            ConfigHistory.Member member = history == null ? null : history.members().get(node.id());
            if (!view.contains(node.id())) {
                member = null;
            }
            Long revision = isSelf ? Long.valueOf(applied.revision()) : member != null ? Long.valueOf(member.revision())
                    : info == null ? null : info.configRevision();
            String checksum = isSelf ? applied.checksum() : member == null ? null : member.checksum();
            if (member != null && member.state() == ConfigHistory.State.DIVERGED) {
                warnings.add("DIVERGED: the config history of " + node.id() + " differs from the cluster's ("
                        + member.reason() + "); it stores no revision and takes no part in elections until resolved."
                        + " On " + node.id() + " run `baton config resolve --take-cluster` to drop its revisions"
                        + " (they are moved aside, not deleted), or `baton config resolve --push-local` to make its"
                        + " config the cluster's next revision");
            } else if (member != null && member.state() == ConfigHistory.State.BEHIND) {
                warnings.add(node.id() + " is behind on config revisions: " + member.reason());
            } else if (member != null && member.state() == ConfigHistory.State.UNCHECKED) {
                warnings.add(node.id() + " has not yet compared its config history with the cluster's");
            }
            nodes.add(new NodeStatus(node.id(), role, reason, node.priority(), revision, checksum,
                    member == null ? null : member.state().text(), member == null ? null : member.reason(),
                    node.clusterAddress().toString(), (isSelf ? adminAddress : node.adminAddress()).toString(),
                    isSelf));
        }
        if (ha.linkDown() != null) {
            warnings.add("FAULT: link down on " + ha.linkDown() + "; this node holds no VIPs");
        }
        if (decision.isActive(nodeId) && !ha.holding()) {
            warnings.add("elected active but not holding the VIPs: " + ha.verdict());
        }
        if (!view.isEmpty() && view.size() * 2 <= config.cluster().nodes().size() && !lost.isEmpty()) {
            // only when a node is lost: one that stopped on purpose holds nothing and cannot be active
            warnings.add("possible split brain: this node sees " + view.size() + " of "
                    + config.cluster().nodes().size() + " nodes; " + String.join(", ", lost)
                    + (lost.size() == 1 ? " is" : " are") + " lost, and may be alive behind a cut link ("
                    + ha.verdict() + ")");
        }
        warnings.addAll(ha.vipProblems());
        String holder = ha.holding() ? nodeId : decision.active() != null && view.contains(decision.active())
                && !decision.isActive(nodeId) ? decision.active() : null;
        List<VipStatus> vips = config.vips().stream()
                .map(vip -> new VipStatus(vip.name(), vip.cidr(), vip.iface(), holder))
                .toList();
        Map<String, long[]> counters = config.services().stream().anyMatch(service -> service.mode().isKernel())
                ? kernel.counters() : Map.of();
        List<ServiceStatus> services = config.services().stream()
                .map(service -> serviceStatus(config, service, l7, kernel, counters, monitor, peerVerdict,
                        serverStates))
                .toList();
        Failover failover = ha.lastFailover()
                .map(last -> new Failover(last.at().truncatedTo(ChronoUnit.MILLIS).toString(), last.from(), last.to(),
                        last.reason(), last.epoch()))
                .orElse(null);
        return new StatusReport(config.cluster().name(), nodeId, true,
                new ConfigSummary(applied.revision(), applied.checksum(), applied.appliedAt().toString(),
                        applied.source(), serverStatesVersion, serverStates.size()),
                nodes, vips, services, failover,
                new Clients(l7.clientsOpen(), config.maxConnections(), l7.refusedClients()), warnings);
    }

    private static ServiceStatus serviceStatus(BatonConfig config, VirtualService service, L7Engine l7,
                                               KernelDataPlane kernel, Map<String, long[]> counters,
                                               HealthMonitor monitor, java.util.function.BiFunction<String, String, PeerHealth> peerVerdict,
                                               Map<String, ServerStates.Entry> serverStates) {
        String address = config.vip(service.vip()).map(VipConfig::address).orElse(null);
        String mode = service.mode().configName() + (service.l7Mode() == null ? "" : "/" + service.l7Mode().configName());
        String persistence = service.persistence().type() == PersistenceType.NONE ? "none"
                : service.persistence().type().configName();
        ServicePool pool = service.mode() == ForwardingMode.L7_SNAT ? l7.pool(service.name()).orElse(null) : null;
        List<String> listeners = l7.listeners().stream()
                .filter(listener -> listener.service().equals(service.name()))
                .map(listener -> listener.address() + ":" + listener.port()
                        + (listener.bound() ? " listening" : " NOT LISTENING: " + listener.error()))
                .sorted()
                .toList();
        KernelRuleset.Plan plan = kernel.plans().stream().filter(p -> p.service().name().equals(service.name()))
                .findFirst().orElse(null);
        String dataPlane = pool != null ? "l7 proxy"
                : plan == null ? "kernel: not planned"
                : kernel.problem() != null ? "kernel: NOT PROGRAMMED: " + kernel.problem()
                : !kernel.active() ? "kernel (nftables): passive node, no rules"
                : plan.forwarding() ? "kernel (nftables), " + plan.servers().size() + " server(s) in a table of "
                + plan.tableSize() + " slots"
                : "kernel (nftables): NO USABLE SERVER";
        List<ServerStatus> servers = new ArrayList<>();
        Stats total = new Stats(0, 0, 0, 0, pool == null ? 0 : pool.errors());
        for (RealServer server : service.servers()) {
            Backend backend = pool == null ? null : pool.backend(server.name()).orElse(null);
            Stats stats = backend == null ? null : Stats.of(backend);
            if (stats != null) {
                total = total.plus(stats);
            }
            HealthMonitor.ServerHealth checked = monitor.health(service.name(), server.name()).orElse(null);
            String health = checked == null ? HEALTH_UNKNOWN : checked.state().name().toLowerCase(Locale.ROOT);
            String lastCheck = checked == null || checked.last() == null ? null
                    : (checked.last().up() ? "ok: " : "failed: ") + checked.last().reason() + " at "
                    + checked.last().at().truncatedTo(ChronoUnit.SECONDS) + " (" + checked.streak() + ")";
            PeerHealth fromPeer = checked != null && checked.state() == io.baton.health.HealthState.UNKNOWN
                    ? peerVerdict.apply(service.name(), server.name()) : null;
            if (fromPeer != null) {
                // steered by the active node's verdict until this node's own checks conclude
                health = fromPeer.health();
                lastCheck = "no check has concluded on this node yet: " + health + " is the verdict of "
                        + fromPeer.from() + (lastCheck == null ? "" : "; " + lastCheck);
            }
            KernelEntry entry = null;
            if (plan != null) {
                KernelRuleset.TableServer inTable = plan.servers().stream()
                        .filter(candidate -> candidate.name().equals(server.name())).findFirst().orElse(null);
                long[] counted = counters.getOrDefault(KernelRuleset.counterName(service, server), new long[2]);
                entry = new KernelEntry(inTable != null, inTable == null ? 0 : inTable.slots(), plan.tableSize(),
                        inTable == null ? null : inTable.mac(), counted[0], counted[1], plan.left().get(server.name()));
            }
            ServerStates.Entry set = serverStates.get(service.name() + "/" + server.name());
            servers.add(new ServerStatus(server.name(), server.address().toString(), server.weight(),
                    (set == null ? server.state() : set.state()).configName(),
                    set == null ? null : set.source() + " at " + set.at(), health, lastCheck, stats,
                    backend == null ? null : backend.maxConnections(), entry));
        }
        if (pool != null && pool.fallback().isPresent()) {
            Backend fallback = pool.fallback().get();
            Stats stats = Stats.of(fallback);
            total = total.plus(stats);
            servers.add(new ServerStatus(ServicePool.FALLBACK_NAME, fallback.config().address().toString(), 0, "online",
                    null, HEALTH_UNKNOWN, null, stats, null, null));
        }
        return new ServiceStatus(service.name(), service.vip(), address, service.ports(), mode,
                service.balance().configName(), service.scheduler().configName(), persistence, dataPlane, listeners,
                pool == null ? null : total, pool == null ? null : limits(pool), servers,
                l7.certificates().getOrDefault(service.name(), List.of()).stream()
                        .map(served -> CertificateStatus.of(served, java.time.Instant.now())).toList());
    }

    private static LimitStatus limits(ServicePool pool) {
        io.baton.config.Limits limits = pool.config().limits();
        return new LimitStatus(pool.clients(), limits.maxConnections(), pool.refusedClients(),
                limits.serverMaxConnections(), pool.waiting(), limits.queue(),
                io.baton.config.Durations.format(limits.queueTimeout()), pool.queuedTotal(), pool.queueFullTotal(),
                pool.queueTimeoutsTotal());
    }
}
