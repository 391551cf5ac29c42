package io.baton.appliance.ha;

import io.baton.cluster.ClusterException;
import io.baton.cluster.ClusterNode;
import io.baton.cluster.Decision;
import io.baton.cluster.HaStateMachine;
import io.baton.cluster.MemberInfo;
import io.baton.cluster.VipPolicy;
import io.baton.host.AddressManager;
import io.baton.host.ArpProbe;
import io.baton.host.DrainForwarding;
import io.baton.host.Nftables;
import io.baton.host.TcpDiag;
import io.baton.host.VipManager;
import io.baton.host.Witness;
import io.baton.cluster.wire.WireStats;
import io.baton.config.BatonConfig;
import io.baton.config.ForwardingMode;
import io.baton.config.HostPort;
import io.baton.config.NodeConfig;
import io.baton.config.VipConfig;
import io.baton.forwarding.DataPlane;
import io.netty.util.concurrent.DefaultThreadFactory;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * Makes this node follow the cluster: when the election (and the split-brain rule) says this node
 * is active, it adds the VIPs, starts listening on them and announces them; otherwise it stops
 * listening and removes them, always before another node can claim them. VIPs in 127.0.0.0/8 are
 * already local addresses and are only bound, never added (the demo runs without root).
 */
public final class HaController implements AutoCloseable {

    /** How often the role is re-examined without any event (a missed event costs at most this). */
    static final Duration RECONCILE_INTERVAL = Duration.ofMillis(500);
    /**
     * How often the witness is asked, in the background, so that a takeover in a minority never
     * waits for it: the answer is at hand when the peer is declared dead.
     */
    static final Duration WITNESS_POLL = Duration.ofMillis(100);
    /** How old the witness's last answer may be and still count. */
    static final Duration WITNESS_FRESH = Duration.ofMillis(350);
    /** How long one witness probe waits for its answer (a LAN answers in well under a millisecond). */
    static final Duration WITNESS_TIMEOUT = Duration.ofMillis(250);
    /** How long a stopping active node waits for its last word to go out, and then for the peer to hold the VIPs. */
    static final Duration HANDOVER_WAIT = Duration.ofMillis(500);
    /**
     * How often the VIP interfaces' links are checked. A node whose link goes down gives up the
     * VIPs before its peer notices it is gone (failure detection takes about 0.2 s).
     */
    static final Duration LINK_INTERVAL = Duration.ofMillis(50);

    /** How often a stopping node counts the connections it still serves after the hand-over. */
    static final Duration LINGER_POLL = Duration.ofMillis(50);

    private static final Logger LOG = LogManager.getLogger(HaController.class);

    private final String self;
    /** The L7 proxy and the kernel data plane: they forward only while this node holds the VIPs. */
    private final DataPlane l7;
    private final VipManager vips;
    private final ScheduledExecutorService timer =
            Executors.newSingleThreadScheduledExecutor(new DefaultThreadFactory("baton-ha", true));
    private volatile BatonConfig config;
    private volatile long revision;
    private volatile Witness witness;
    /** System.nanoTime() of the witness's last answer; 0 before the first. */
    private volatile long witnessAnsweredAt;
    private final ScheduledExecutorService witnessPoller =
            Executors.newSingleThreadScheduledExecutor(new DefaultThreadFactory("baton-witness", true));
    private volatile boolean holding;
    private volatile String verdict = "starting";
    private volatile String linkDown;
    private volatile boolean handingOver;
    private volatile boolean stopping;
    private volatile List<String> vipProblems = List.of();
    /** Set once joined; read without the lock (the status must not wait for a takeover in progress). */
    private volatile ClusterNode cluster;
    /** Why this node's config history keeps it out of elections (diverged, not compared yet); null when it does not. */
    private final Supplier<String> historyUnready;
    private boolean closed;

    /**
     * How long a node in a minority listens for another host still answering ARP for a VIP. A host
     * answers ARP from its kernel, in well under a millisecond on a LAN even with a busy CPU.
     */
    static final Duration PROBE_WAIT = Duration.ofMillis(20);
    private final AddressManager addresses;
    private final ArpProbe probe;
    /** The MACs of this node's VIP interfaces, published so that peers know them from other hosts. */
    private volatile List<String> ownMacs = List.of();
    /** The same MACs by interface. */
    private volatile Map<String, String> macByIface = Map.of();
    /** Sends on the packets of connections that a peer serves (see {@link #wantedRoutes}). */
    private final DrainForwarding forwarding = new DrainForwarding(new Nftables());
    /** System.nanoTime() of this node's last claim: a stale route is removed a while after, not during it. */
    private volatile long claimedAt;
    /** How long after a claim a stale route stays (removing it runs nft, while the first clients arrive). */
    static final Duration STALE_ROUTE_GRACE = Duration.ofSeconds(1);
    /** How long a claim waits for the route its hand-over needs before it announces the VIPs anyway. */
    static final Duration ROUTE_WAIT = Duration.ofMillis(250);
    /** Runs nft for the forwarding: a hung nft holds up neither the role nor the status. */
    private final ExecutorService nftWorker =
            Executors.newSingleThreadExecutor(new DefaultThreadFactory("baton-handover", true));
    /** The routes last asked for; the worker brings the forwarding to them. */
    private volatile List<DrainForwarding.Route> wantedNow = List.of();
    private final AtomicBoolean routesQueued =
            new AtomicBoolean();
    /** The rules; stepped under this controller's lock. */
    private final HaStateMachine machine = new HaStateMachine();
    /** The machine's address conflicts after its last step, for readers on other threads. */
    private volatile Map<String, HaStateMachine.Conflict> conflicts = Map.of();

    private HaController(String self, BatonConfig config, long revision, DataPlane l7, VipManager vips,
                         AddressManager addresses, ArpProbe probe, Supplier<String> historyUnready) {
        this.historyUnready = historyUnready;
        this.addresses = addresses;
        this.probe = probe;
        this.self = self;
        this.config = config;
        this.revision = revision;
        this.l7 = l7;
        this.vips = vips;
        this.witness = witnessOf(config);
        learnMacs(config);
    }

    private void learnMacs(BatonConfig of) {
        Map<String, String> macs = new TreeMap<>();
        for (VipConfig vip : managed(of.vips())) {
            try {
                macs.putIfAbsent(vip.iface(), addresses.mac(vip.iface()).toLowerCase(Locale.ROOT));
            } catch (IOException e) {
                LOG.debug("no MAC for {} yet: {}", vip.iface(), e.getMessage());
            }
        }
        macByIface = Map.copyOf(macs);
        ownMacs = List.copyOf(new TreeSet<>(macs.values()));
    }

    /**
     * Removes left-over VIPs, joins the cluster and starts following its decisions.
     *
     * @param historyUnready why this node's config history keeps it out of elections, null when it
     *                       does not; call {@link #historyChanged()} when that changes
     */
    public static HaController start(String self, BatonConfig config, long revision, DataPlane l7, VipManager vips,
                                     AddressManager addresses, ArpProbe probe,
                                     Supplier<String> historyUnready) throws ClusterException {
        HaController controller = new HaController(self, config, revision, l7, vips, addresses, probe,
                historyUnready);
        controller.witnessPoller.scheduleWithFixedDelay(controller::pollWitness, 0, WITNESS_POLL.toMillis(),
                TimeUnit.MILLISECONDS);
        l7.setActive(false);
        HaStateMachine.rehearse(); // the state machine's code is loaded and linked before a takeover needs it
        vips.removeLeftovers(managed(config.vips()));
        if (!managed(config.vips()).isEmpty()) {
            controller.nftWorker.execute(controller.forwarding::removeLeftover);
        }
        controller.lookForHolders();
        NodeConfig node = config.cluster().node(self).orElseThrow();
        String keyFile = config.cluster().keyFile();
        ClusterNode cluster = ClusterNode.join(config.cluster(), self, controller.info(),
                keyFile == null ? null : Path.of(keyFile), controller.listener());
        synchronized (controller) {
            controller.cluster = cluster;
        }
        int size = config.cluster().nodes().size();
        if (controller.witness == null && size == 2) {
            LOG.warn("no cluster.witness: if the link between the two nodes is cut, both become active");
        } else if (controller.witness == null && size % 2 == 0) {
            LOG.warn("no cluster.witness: if the cluster splits in two halves of {} nodes, neither holds the VIPs",
                    size / 2);
        }
        controller.timer.scheduleWithFixedDelay(() -> controller.reconcile(false), RECONCILE_INTERVAL.toMillis(),
                RECONCILE_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
        controller.timer.scheduleWithFixedDelay(controller::checkLinks, LINK_INTERVAL.toMillis(),
                LINK_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
        controller.reconcile(false);
        return controller;
    }

    /**
     * The cluster's events re-examine the role on this controller's own thread: claiming VIPs
     * (ip, gratuitous ARP) and reprogramming the data planes never hold up the thread that delivers
     * the cluster's views and messages.
     */
    private ClusterNode.Listener listener() {
        return new ClusterNode.Listener() {
            @Override
            public void decided(Decision decision, boolean merged) {
                reconcileSoon(merged);
            }

            @Override
            public void viewChanged(List<String> members) {
                reconcileSoon(false);
            }

            @Override
            public void infosChanged() {
                reconcileSoon(false);
            }
        };
    }

    private void reconcileSoon(boolean reannounce) {
        try {
            timer.execute(() -> reconcile(reannounce));
        } catch (RejectedExecutionException stopping) {
            // closing: nothing left to reconcile
        }
    }

    /** The config history's verdict on this node changed: tell the cluster whether it may be elected. */
    public void historyChanged() {
        ClusterNode node;
        synchronized (this) {
            node = cluster;
        }
        if (node != null) {
            node.update(info());
        }
        reconcileSoon(false);
    }

    /** A new config revision is running on this node. */
    public synchronized void configApplied(BatonConfig newConfig, long newRevision) {
        List<VipConfig> before = managed(config.vips());
        config = newConfig;
        revision = newRevision;
        learnMacs(newConfig);
        Witness newWitness = witnessOf(newConfig);
        if (!Objects.equals(target(witness), target(newWitness))) {
            witnessAnsweredAt = 0;
            witness = newWitness;
            witnessPoller.execute(this::pollWitness);
        }
        if (holding && !before.equals(managed(newConfig.vips()))) {
            vips.releaseAll();
            vipProblems = vips.claim(managed(newConfig.vips()));
            vips.announce();
        }
        if (cluster != null) {
            cluster.update(info()); // after the VIPs: it says which interfaces serve them
        }
    }

    /** A VIP interface without link makes this node unfit to hold VIPs (keepalived's FAULT state). */
    private void checkLinks() {
        if (holding && vips.fenced()) {
            fenced();
        }
        String down = null;
        for (VipConfig vip : managed(config.vips())) {
            try {
                if (!addresses.linkUp(vip.iface())) {
                    down = vip.iface();
                    break;
                }
            } catch (IOException e) {
                down = vip.iface() + " (" + e.getMessage() + ")";
                break;
            }
        }
        String before = linkDown;
        if (Objects.equals(before, down)) {
            return;
        }
        linkDown = down;
        if (down != null) {
            LOG.error("FAULT: link down on {}: giving up the VIPs and telling the cluster this node is not ready", down);
        } else {
            LOG.warn("link back on {}: ready again", before);
        }
        ClusterNode node = cluster;
        if (node != null) {
            node.update(info());
        }
        reconcile(false);
    }

    /** True when the member named active is another node and reports holding the VIPs. */
    private boolean peerHolds(ClusterNode node) {
        Decision decision = node.decision();
        if (decision.active() == null || decision.isActive(self)) {
            return false;
        }
        MemberInfo info = node.infos().get(decision.active());
        return info != null && info.holding();
    }

    /** Asks the witness; when its verdict flips, the role is re-examined at once. */
    private void pollWitness() {
        Witness current = witness;
        if (current == null) {
            return;
        }
        boolean before = witnessFresh();
        if (current.reachable()) {
            witnessAnsweredAt = System.nanoTime();
        }
        boolean now = witnessFresh();
        if (before != now) {
            LOG.info("witness {} {}", current.target(), now ? "answers" : "does not answer");
            try {
                timer.execute(() -> reconcile(false));
            } catch (RejectedExecutionException stopping) {
                // closing: nothing left to reconcile
            }
        }
    }

    private boolean witnessFresh() {
        long at = witnessAnsweredAt;
        return at != 0 && System.nanoTime() - at < WITNESS_FRESH.toNanos();
    }

    private static HostPort target(Witness witness) {
        return witness == null ? null : witness.target();
    }

    /**
     * Says at start which VIPs another host answers for already. The probe (sender 0.0.0.0) leaves
     * no trace in anyone's ARP cache, and it readies the path a takeover in a minority takes.
     */
    private void lookForHolders() {
        for (VipConfig vip : managed(config.vips())) {
            try {
                String mac = probe.answeredElsewhere(vip.iface(), vip.address(), Duration.ofMillis(10));
                if (mac != null) {
                    LOG.info("VIP {} is held by {} (that MAC answers ARP for it)", vip.address(), mac);
                }
            } catch (IOException e) {
                LOG.warn("cannot probe VIP {} on {}: {}", vip.address(), vip.iface(), e.getMessage());
            }
        }
    }

    /** What this node tells the cluster about itself now. */
    private MemberInfo info() {
        NodeConfig me = config.cluster().node(self).orElseThrow();
        String history = historyUnready.get();
        String unready = linkDown != null ? "has no link on " + linkDown
                : stopping ? MemberInfo.STOPPING
                : handingOver ? "handed the active role over on request"
                : history;
        return new MemberInfo(self, me.priority(), revision, unready == null, holding, unready, ownMacs,
                servingIfaces());
    }

    /** The interfaces (and their MACs) of the VIPs this node serves: held, or drained and still served. */
    private Map<String, String> servingIfaces() {
        Set<String> served = new HashSet<>();
        vips.held().forEach(vip -> served.add(vip.name()));
        vips.drained().forEach(vip -> served.add(vip.name()));
        if (served.isEmpty()) {
            return Map.of();
        }
        Map<String, String> ifaces = new TreeMap<>();
        for (VipConfig vip : managed(config.vips())) {
            String mac = macByIface.get(vip.iface());
            if (served.contains(vip.name()) && mac != null) {
                ifaces.put(vip.iface(), mac);
            }
        }
        return ifaces;
    }

    /** How many connections to the drained VIPs this node still has (those the L7 proxy serves). */
    private int drainedConnections() {
        Set<InetAddress> drained = new HashSet<>();
        for (VipConfig vip : vips.drained()) {
            try {
                drained.add(InetAddress.getByName(vip.address())); // a literal: no lookup
            } catch (java.net.UnknownHostException e) {
                LOG.debug("not an address: {}", vip.address());
            }
        }
        if (drained.isEmpty()) {
            return 0;
        }
        try {
            return (int) TcpDiag.established().stream()
                    .filter(connection -> drained.contains(connection.local().getAddress())).count();
        } catch (IOException e) {
            LOG.warn("cannot count the connections still open on the drained VIPs: {}", e.getMessage());
            return 0;
        }
    }

    /**
     * Where the packets to the L7 services of the connections that this node did not accept go
     * (see {@link DrainForwarding}). The holder sends on those of a peer that drains (it handed the
     * VIPs over and serves what it has). A passive node points at the holder ahead of time, or at a
     * draining peer when none holds: when it claims, the route that the hand-over needs is there,
     * and no nft runs between its claim and its gratuitous ARP. A passive node that sees no holder
     * (it lost it) leaves its route as it is, null: nft then would compete with its takeover. A
     * draining or stopping node sends on nothing. Kernel-mode services need none of this: the new
     * holder's table sends a flow to the same real server.
     */
    private List<DrainForwarding.Route> wantedRoutes() {
        if (closed || stopping || !vips.drained().isEmpty() || macByIface.isEmpty()) {
            return List.of();
        }
        Map<String, MemberInfo> infos = cluster.infos();
        List<MemberInfo> holders = new ArrayList<>();
        List<MemberInfo> draining = new ArrayList<>();
        for (String member : cluster.agreeingMembers()) {
            MemberInfo info = infos.get(member);
            if (!member.equals(self) && info != null) {
                if (info.drains()) {
                    draining.add(info);
                } else if (info.holding()) {
                    holders.add(info);
                }
            }
        }
        List<MemberInfo> targets = holding || holders.isEmpty() ? draining : holders;
        if (targets.isEmpty() && !holding) {
            return null; // a passive node that sees no holder: its route changes once one is seen
        }
        List<DrainForwarding.Route> wanted = new ArrayList<>();
        Set<String> routed = new HashSet<>();
        for (MemberInfo target : targets) {
            target.serving().forEach((iface, peerMac) -> {
                String ownMac = macByIface.get(iface);
                List<VipConfig> onIface = managed(config.vips()).stream()
                        .filter(vip -> vip.iface().equals(iface) && !vip.address().contains(":")).toList();
                List<String> addresses = onIface.stream().map(VipConfig::address).distinct().toList();
                Set<String> names = new HashSet<>();
                onIface.forEach(vip -> names.add(vip.name()));
                // only the proxy's: a kernel-mode flow goes on through the new holder's own table
                List<Integer> ports = config.services().stream()
                        .filter(service -> names.contains(service.vip())
                                && service.mode() == ForwardingMode.L7_SNAT)
                        .flatMap(service -> service.ports().stream()).distinct().sorted().toList();
                if (ownMac != null && !ownMac.equals(peerMac) && !addresses.isEmpty() && !ports.isEmpty()
                        && routed.add(iface)) {
                    wanted.add(new DrainForwarding.Route(iface, ownMac, peerMac, addresses, ports));
                }
            });
        }
        return wanted;
    }

    /**
     * Brings the forwarding to what {@link #wantedRoutes} says, on the nft worker. {@code
     * beforeAnnounce}: a claim is about to announce the VIPs; a route that its hand-over needs and
     * that is missing is put in first ({@link #ROUTE_WAIT} at most), and removing a stale one waits
     * until the clients have heard of this node.
     */
    private void syncForwarding(boolean beforeAnnounce) {
        List<DrainForwarding.Route> wanted = wantedRoutes();
        if (wanted == null) {
            return;
        }
        List<DrainForwarding.Route> now = forwarding.routes();
        if (beforeAnnounce) {
            if (!wanted.isEmpty() && !now.containsAll(wanted)) {
                wantedNow = wanted;
                awaitRoutes(queueRoutes());
            }
            return;
        }
        if (holding && wanted.isEmpty() && System.nanoTime() - claimedAt < STALE_ROUTE_GRACE.toNanos()) {
            return; // after a takeover from a lost node: a later reconcile removes the route to it
        }
        wantedNow = wanted;
        if (!wanted.equals(now)) {
            queueRoutes();
        }
    }

    /** Has the worker bring the forwarding to {@link #wantedNow} (once, however often asked meanwhile). */
    private Future<?> queueRoutes() {
        if (!routesQueued.compareAndSet(false, true)) {
            return CompletableFuture.completedFuture(null); // the queued task takes the latest
        }
        try {
            return nftWorker.submit(() -> {
                routesQueued.set(false);
                applyRoutes(wantedNow);
            });
        } catch (RejectedExecutionException closing) {
            routesQueued.set(false);
            return CompletableFuture.completedFuture(null);
        }
    }

    private void awaitRoutes(Future<?> applied) {
        try {
            applied.get(ROUTE_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            LOG.warn("node {}: nft did not put in the hand-over's forwarding within {} ms; announcing the VIPs"
                    + " anyway (connections the peer still serves may be reset)", self, ROUTE_WAIT.toMillis());
        } catch (ExecutionException e) {
            LOG.warn("node {}: the hand-over's forwarding failed: {}", self, e.getCause().toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void applyRoutes(List<DrainForwarding.Route> wanted) {
        if (wanted.equals(forwarding.routes())) {
            return;
        }
        try {
            forwarding.forward(wanted);
            if (!wanted.isEmpty()) {
                LOG.info("node {}: packets to the L7 services' VIPs of connections it did not accept go on to {}",
                        self, wanted.stream().map(route -> route.peerMac() + " on " + route.iface()).toList());
            }
        } catch (IOException | IllegalArgumentException e) {
            LOG.error("node {} cannot send on the packets of connections a peer serves ({}): a hand-over resets them",
                    self, e.getMessage());
        }
    }

    /** Takes or gives up the active role as the cluster, the links and the witness say. */
    private synchronized void reconcile(boolean reannounce) {
        if (cluster == null || closed) {
            return;
        }
        step(reannounce);
    }

    /** Steps the state machine with what this node sees now, and does what it says. */
    private void step(boolean reannounce) {
        HaStateMachine.Observation seen = observe(reannounce);
        HaStateMachine.Step step = machine.step(seen);
        if (step.probes()) {
            step = machine.step(seen, probeVips());
        }
        execute(step, seen);
    }

    private HaStateMachine.Observation observe(boolean reannounce) {
        // only members that have this node in their view too count: views are not symmetric while they change
        return new HaStateMachine.Observation(self, cluster.decision(), cluster.agreeingMembers(),
                config.cluster().nodes().stream().map(NodeConfig::id).toList(), cluster.infos(), cluster.departed(),
                cluster.settled(), witness != null, witnessFresh(), linkDown, handingOver, stopping, reannounce,
                System.nanoTime(), drainedConnections());
    }

    /** The VIP guard removed the VIPs while this JVM was stopped: hold nothing, until the cluster has caught up. */
    private synchronized void fenced() {
        if (cluster == null || closed) {
            return;
        }
        LOG.error("node {} was stopped (SIGSTOP) for longer than failure detection while holding the VIPs: its VIP"
                + " guard removed them; it claims again only after the cluster's next decision", self);
        HaStateMachine.Observation seen = observe(false);
        execute(machine.fenced(seen), seen);
        step(false);
    }

    private void execute(HaStateMachine.Step step, HaStateMachine.Observation seen) {
        verdict = step.verdict();
        conflicts = machine.conflicts();
        for (HaStateMachine.Action action : step.actions()) {
            if (action instanceof HaStateMachine.Action.Claim claim) {
                LOG.warn("node {} takes the active role (epoch {}): {}; {}", self, seen.decision().epoch(),
                        seen.decision().reason(), claim.reason());
                boolean forwardFirst = l7.startsBeforeTheVipsAreAdded();
                if (forwardFirst) {
                    l7.setActive(true);
                }
                vipProblems = vips.claim(managed(config.vips()));
                if (!forwardFirst) {
                    l7.setActive(true);
                }
                holding = true;
                claimedAt = System.nanoTime();
                syncForwarding(true); // before the clients hear of this node: their open connections go on
                vips.announce();
                cluster.update(info());
            } else if (action instanceof HaStateMachine.Action.Release release) {
                LOG.warn("node {} gives up the active role: {}", self, release.reason());
                l7.setActive(false);
                vips.releaseAll();
                holding = false;
                cluster.update(info());
            } else if (action instanceof HaStateMachine.Action.Drain drain) {
                if (managed(config.vips()).isEmpty()) {
                    // loopback VIPs, local on every node: nothing moves, and a peer on this same host (the
                    // demo, loopback tests) binds the same addresses, so this node stops listening first
                    LOG.warn("node {} gives up the active role: {}", self, drain.reason());
                    l7.setActive(false);
                } else {
                    LOG.warn("node {} hands the VIPs over: {}", self, drain.reason());
                    vips.drain(); // forwarding goes on for the clients still sent here
                    l7.handingOver(true); // and the connections here end soon
                }
                holding = false;
                cluster.update(info());
            } else if (action instanceof HaStateMachine.Action.Announce) {
                LOG.info("partitions merged: re-announcing the VIPs");
                vips.announce();
            } else if (action instanceof HaStateMachine.Action.Recheck recheck) {
                try {
                    timer.schedule(() -> reconcile(false), recheck.after().toMillis(), TimeUnit.MILLISECONDS);
                } catch (RejectedExecutionException stopping) {
                    // closing: nothing left to reconcile
                }
            } else if (action instanceof HaStateMachine.Action.Warn warn) {
                LOG.warn(warn.message());
            }
        }
        syncForwarding(false);
    }

    /** Who else answers ARP for each VIP: the state machine tells a Baton peer from a stranger. */
    private List<HaStateMachine.ProbeAnswer> probeVips() {
        List<HaStateMachine.ProbeAnswer> answers = new ArrayList<>();
        for (VipConfig vip : managed(config.vips())) {
            try {
                long started = System.nanoTime();
                Set<String> answering = probe.answerers(vip.iface(), vip.address(), PROBE_WAIT);
                LOG.debug("ARP probe for {} on {}: {} ({} ms)", vip.address(), vip.iface(),
                        answering.isEmpty() ? "no other host answers" : "answered by " + answering,
                        (System.nanoTime() - started) / 1_000_000);
                answers.add(new HaStateMachine.ProbeAnswer(vip.address(), vip.iface(), answering));
            } catch (IOException e) {
                LOG.warn("cannot probe VIP {} on {}: {}", vip.address(), vip.iface(), e.getMessage());
            }
        }
        return answers;
    }

    /**
     * Hands the active role to the best ready peer, make before break: this node drains the VIPs
     * (no longer answered for by ARP, still served) and tells the cluster it is not ready, so the
     * peer is named and claims them at once; once it holds them, this node removes its copies.
     *
     * @return the node that took over
     * @throws IllegalStateException when this node is not active or no peer can take over
     */
    public String failover(Duration timeout) throws InterruptedException {
        ClusterNode node = cluster;
        Decision decision = decision();
        if (node == null || !decision.isActive(self)) {
            throw new IllegalStateException("this node is not the active node (active: "
                    + (decision.active() == null ? "none" : decision.active()) + ")");
        }
        long readyPeers = node.infos().values().stream()
                .filter(info -> !info.nodeId().equals(self) && info.ready() && info.configRevision() == revision)
                .count();
        if (readyPeers == 0) {
            throw new IllegalStateException("no peer is ready to take over (members: " + node.members() + ")");
        }
        LOG.warn("node {} hands the active role over on request", self);
        handingOver = true;
        try {
            reconcile(false); // releases first
            node.update(info());
            long deadline = System.nanoTime() + timeout.toNanos();
            // the VIPs drain until the peer holds them: only then does this node stop serving on them
            while (!peerHolds(node) && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            String now = decision().active();
            if (now == null || now.equals(self)) {
                throw new IllegalStateException("no peer took over within " + timeout.toMillis() + " ms");
            }
            return now;
        } finally {
            handingOver = false;
            node.update(info());
            reconcile(false);
        }
    }

    public boolean holding() {
        return holding;
    }

    /** The interface whose link is down (this node is in FAULT), or null. */
    public String linkDown() {
        return linkDown;
    }

    /** Why this node holds the VIPs or not. */
    public String verdict() {
        return verdict;
    }

    /** This node's membership of the cluster, for the components that replicate state over it. */
    public ClusterNode cluster() {
        return cluster;
    }

    /** What the cluster wire refused (null before the node has joined). */
    public WireStats wireStats() {
        ClusterNode node = cluster;
        return node == null ? null : node.wireStats();
    }

    /** VIPs that could not be added, and address conflicts (a VIP that a host which is no Baton node answers). */
    public List<String> vipProblems() {
        if (conflicts.isEmpty()) {
            return vipProblems;
        }
        List<String> all = new ArrayList<>(vipProblems);
        conflicts.forEach((address, conflict) -> all.add("address conflict: VIP " + address + " on " + conflict.iface()
                + " is also answered by " + String.join(", ", conflict.macs()) + ", which is no Baton node"));
        return all;
    }

    public Decision decision() {
        ClusterNode node = cluster;
        return node == null ? Decision.NONE : node.decision();
    }

    public List<String> members() {
        ClusterNode node = cluster;
        return node == null ? List.of() : node.members();
    }

    /** The last word of each configured member not in the view. */
    public Map<String, MemberInfo> departed() {
        ClusterNode node = cluster;
        return node == null ? Map.of() : node.departed();
    }

    /** Whether a configured member not in the view left on purpose (see {@link ClusterNode#leftOnPurpose}). */
    public boolean leftOnPurpose(String node) {
        ClusterNode cluster = this.cluster;
        return cluster != null && cluster.leftOnPurpose(node);
    }

    /** When each configured member not in the view left it. */
    public Map<String, java.time.Instant> departedAt() {
        ClusterNode node = cluster;
        return node == null ? Map.of() : node.departedAt();
    }

    public Map<String, MemberInfo> infos() {
        ClusterNode node = cluster;
        return node == null ? Map.of() : node.infos();
    }

    public Optional<ClusterNode.Failover> lastFailover() {
        ClusterNode node = cluster;
        return node == null ? Optional.empty() : node.lastFailover();
    }

    /**
     * Hands the role over before anything else of the node stops, make before break: with a ready
     * peer the VIPs are drained (moved to lo, no longer answered for by ARP, still served), then the
     * cluster hears that this node holds nothing and is no longer eligible, so the peer is named and
     * claims at once, while this node is still a member (no waiting for the view change, no
     * probing); once the peer reports holding the VIPs (bounded wait) the drained VIPs are removed.
     * Without a ready peer the VIPs are simply removed. The node stays a member until {@link #close}.
     * Idempotent.
     */
    public void handOver() {
        ClusterNode node;
        boolean wasActive;
        MemberInfo lastWord;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            timer.shutdownNow();
            witnessPoller.shutdownNow();
            node = cluster;
            wasActive = node != null && node.decision().isActive(self);
            stopping = true; // from now on info() says: not eligible
            if (node != null) {
                step(false); // the machine is STOPPING: it releases the VIPs
            }
            lastWord = info();
        }
        if (node == null) {
            return;
        }
        // outside the lock: reconcile() needs it, and the cluster thread that sends this may be waiting for it
        node.updateAndWait(lastWord, HANDOVER_WAIT);
        if (wasActive && node.members().size() > 1) {
            // stay a member until the peer reports holding the VIPs (bounded): the handover is then
            // complete, and this node's shutdown work does not compete with the peer's takeover
            long deadline = System.nanoTime() + HANDOVER_WAIT.toNanos();
            while (!peerHolds(node) && System.nanoTime() < deadline) {
                try {
                    Thread.sleep(2);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            lingerAfterHandover();
            Decision after = node.decision();
            if (after.isActive(self) || after.active() == null) {
                LOG.warn("no peer was named active within {} ms; leaving anyway", HANDOVER_WAIT.toMillis());
            } else if (!peerHolds(node)) {
                LOG.warn("active role handed to {} (epoch {}), which did not report holding the VIPs within {} ms;"
                        + " leaving anyway", after.active(), after.epoch(), HANDOVER_WAIT.toMillis());
            } else {
                LOG.info("active role handed to {} (epoch {}), which holds the VIPs", after.active(), after.epoch());
            }
        }
    }

    /**
     * The peer holds the VIPs now (or the wait is over): this node serves the connections it still
     * has until they end, as the state machine says ({@link HaStateMachine#LINGER_LIMIT} at most),
     * and then releases the drained VIPs. The HA timer is stopped by now: this thread steps it.
     */
    private void lingerAfterHandover() {
        long deadline = System.nanoTime()
                + HaStateMachine.LINGER_MIN.plus(HaStateMachine.LINGER_LIMIT).plusSeconds(1).toNanos();
        while (true) {
            synchronized (this) {
                step(false);
                if (vips.drained().isEmpty() || System.nanoTime() > deadline) {
                    return;
                }
            }
            try {
                Thread.sleep(LINGER_POLL.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Hands the role over (if {@link #handOver} did not already) and leaves the cluster. */
    @Override
    public void close() {
        handOver();
        ClusterNode node;
        synchronized (this) {
            node = cluster;
        }
        if (node != null) {
            node.close();
        }
        nftWorker.shutdownNow();
        forwarding.close();
        vips.close();
    }

    /** The VIPs this node adds and removes: all but those already local (127.0.0.0/8). */
    static List<VipConfig> managed(List<VipConfig> all) {
        return all.stream().filter(vip -> !vip.address().startsWith("127.")).toList();
    }

    private static Witness witnessOf(BatonConfig config) {
        return config.cluster().witness() == null ? null : new Witness(config.cluster().witness(), WITNESS_TIMEOUT);
    }
}
