package io.baton.cluster;

import io.baton.cluster.wire.ClusterCodec;
import io.baton.cluster.wire.ClusterKeys;
import io.baton.cluster.wire.ClusterMessage;
import io.baton.cluster.wire.ClusterPeers;
import io.baton.cluster.wire.ClusterTls;
import io.baton.cluster.wire.ClusterTransport;
import io.baton.cluster.wire.GuardedSocketFactory;
import io.baton.cluster.wire.KeyFile;
import io.baton.cluster.wire.MalformedMessageException;
import io.baton.cluster.wire.WireStats;
import io.baton.config.ClusterConfig;
import io.baton.config.HostPort;
import io.baton.config.NodeConfig;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.jgroups.Address;
import org.jgroups.BytesMessage;
import org.jgroups.Event;
import org.jgroups.JChannel;
import org.jgroups.MergeView;
import org.jgroups.Message;
import org.jgroups.Receiver;
import org.jgroups.View;
import org.jgroups.conf.ProtocolConfiguration;
import org.jgroups.conf.XmlConfigurator;
import org.jgroups.protocols.pbcast.GMS;
import org.jgroups.stack.Configurator;
import org.jgroups.stack.IpAddress;
import org.jgroups.stack.Protocol;

import java.io.InputStream;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * This node's membership of the cluster: a JGroups channel over mutually authenticated TLS to the
 * configured peers only (see {@link io.baton.cluster.wire}), every message checked to come from a
 * configured node at its configured address and decoded by {@link ClusterCodec} before anything
 * acts on it. Members announce themselves ({@link MemberInfo}); the coordinator
 * of each view runs the {@link Election} and announces the {@link Decision}; every node adopts the
 * decision with the highest epoch. All events are handled one at a time on one thread.
 */
public final class ClusterNode implements AutoCloseable {

    /** Told of every adopted decision and of every change of the members, on the cluster's event thread. */
    public interface Listener {
        /** @param merged the decision follows a merge of partitions (the active re-announces its VIPs) */
        void decided(Decision decision, boolean merged);

        default void viewChanged(List<String> members) {
        }

        /** A member's info changed (readiness, revision, whether it holds the VIPs). */
        default void infosChanged() {
        }
    }

    /**
     * A component that replicates state over the cluster (the config history, pinned clients):
     * told of the messages that are not membership's own, of views and of decisions, on the
     * cluster's event thread, in the order they happened. Keep each call quick: hand work off.
     */
    public interface Subscriber {
        void received(String from, ClusterMessage message);

        default void viewChanged(List<String> members, boolean merge) {
        }

        default void decided(Decision decision) {
        }
    }

    /** When the active role last moved, from where to where and why. */
    public record Failover(Instant at, String from, String to, String reason, long epoch) {
    }

    private static final Logger LOG = LogManager.getLogger(ClusterNode.class);
    private static final String STACK = "/io/baton/cluster/jgroups.xml";
    /**
     * How long a node boots: from its start until it has seen every configured node ready in one
     * view, at most this long. While every member of a view boots, the highest priority takes the
     * active role, whether the members joined one by one or formed partitions that merged (as with
     * keepalived, nodes started together elect by priority, not by which one formed a view first;
     * on a busy host the nodes often time out their discovery and form views of their own, which
     * MERGE3 joins 2-10 s later). Later, the active node stays unless {@code preempt}.
     */
    static final java.time.Duration BOOT_SETTLE = java.time.Duration.ofSeconds(30);
    /** How often the coordinator says its decision again (see {@link #repeatDecision}). */
    static final java.time.Duration DECISION_REPEAT = java.time.Duration.ofMillis(500);
    /**
     * How often a member says its info again, unchanged: a member that stops hearing it (it left
     * this node's view on its side, while this node still has it) stops counting it toward a quorum.
     */
    static final java.time.Duration INFO_INTERVAL = java.time.Duration.ofMillis(100);
    /** How recently a member must have multicast to this node to count toward its quorum. */
    static final java.time.Duration AGREE_WINDOW = java.time.Duration.ofMillis(400);
    /** Joining takes about a second; a node whose joins go unanswered for this long gives up. */
    private static final int JOIN_TIMEOUT_SECONDS = 10;

    private final ClusterConfig config;
    private final String self;
    private final Listener listener;
    private final ExecutorService events;
    private final java.util.concurrent.ScheduledExecutorService ticker =
            Executors.newSingleThreadScheduledExecutor(new DaemonThreads("baton-cluster-info"));
    /** System.nanoTime() of each member's last multicast that reached this node. */
    private final Map<String, Long> heardAt = new java.util.concurrent.ConcurrentHashMap<>();
    private final JChannel channel;
    private final ClusterPeers peers;
    private final GuardedSocketFactory sockets;
    private final WireStats wire;
    private final Supplier<ClusterKeys> keys;
    private final Map<String, MemberInfo> infos = new HashMap<>();
    /** A copy of {@link #infos} for readers on other threads (the map itself is the event thread's). */
    private volatile Map<String, MemberInfo> infosSnapshot = Map.of();
    /** The last word of each member that left the view: did it still hold the VIPs? */
    private volatile Map<String, MemberInfo> departed = Map.of();
    /** When each member that left the view was last in it. */
    private volatile Map<String, Instant> departedAt = Map.of();
    /** The members that left the view without having been suspected: they asked to leave. */
    private volatile java.util.Set<String> leftOnPurpose = java.util.Set.of();
    private final Map<String, Long> epochsSeen = new HashMap<>();
    /** A copy of {@link #epochsSeen} for readers on other threads. */
    private volatile Map<String, Long> epochsSnapshot = Map.of();
    private volatile MemberInfo selfInfo;
    private final Object infoLock = new Object();
    private final List<Subscriber> subscribers = new java.util.concurrent.CopyOnWriteArrayList<>();
    /**
     * What the subscribers are to be told, held until {@link #startDelivering()} (null from then on);
     * on the event thread. A node's parts subscribe one after the other once it has joined, and what
     * came before was lost: a joining node missed the active node's health verdicts, which are sent
     * once when a member joins (clean-clone CI, StateReplicationTest).
     */
    private List<Consumer<Subscriber>> held = new ArrayList<>();
    /** Bounds {@link #held}: a node that never starts delivering must not fill its heap. */
    static final int MAX_HELD = 10_000;
    private boolean heldOverflowed;
    /** The address of each member of the current view, by node id. */
    private volatile Map<String, Address> addresses = Map.of();
    private volatile Decision decision = Decision.NONE;
    private volatile List<String> members = List.of();
    /** The JGroups view that {@link #members} names (set on the event thread, in view order). */
    private volatile View processedView;
    private volatile Failover lastFailover;
    /** The members that have said they hold the VIPs, at any time since this node started. */
    private final java.util.Set<String> everHeld = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private boolean mergePending;
    /** System.nanoTime() when this node started: it boots until {@link #BOOT_SETTLE} after it. */
    private final long startedAt = System.nanoTime();
    /** This node's boot has ended (see {@link #noteWhetherBooted}): for good, even if it is not yet 30 s old. */
    private volatile boolean booted;
    /** The members whose last info said they boot. */
    private final java.util.Set<String> bootingMembers = new java.util.HashSet<>();
    /** The coordinator of the current view has decided, knowing every member's info. */
    private boolean decidedInView;
    private volatile boolean settled;
    /** Set when joining failed: nothing this channel sees may reach the listener. */
    private volatile boolean abandoned;

    private ClusterNode(ClusterConfig config, String self, MemberInfo selfInfo, Listener listener, JChannel channel,
                        ClusterPeers peers, GuardedSocketFactory sockets, WireStats wire, Supplier<ClusterKeys> keys) {
        this.config = config;
        this.self = self;
        this.selfInfo = selfInfo;
        this.listener = listener;
        this.channel = channel;
        this.peers = peers;
        this.sockets = sockets;
        this.wire = wire;
        this.keys = keys;
        this.events = Executors.newSingleThreadExecutor(new DaemonThreads("baton-cluster"));
    }

    /**
     * Joins the cluster (or forms it, if no peer answers).
     *
     * @param keyFile the cluster key file; null only for a cluster of one node (which then makes a key of its own)
     */
    public static ClusterNode join(ClusterConfig config, String self, MemberInfo selfInfo, Path keyFile,
                                   Listener listener) throws ClusterException {
        NodeConfig node = config.node(self).orElseThrow(() ->
                new ClusterException("node " + self + " is not in cluster.nodes"));
        Supplier<ClusterKeys> keys;
        if (keyFile != null) {
            keys = new KeyFile(keyFile);
        } else if (config.nodes().size() > 1) {
            throw new ClusterException("cluster.key-file is not set: a cluster of " + config.nodes().size()
                    + " nodes needs a shared key (make one with `baton keygen FILE`)");
        } else {
            ClusterKeys own = ClusterKeys.ephemeral();
            keys = () -> own;
        }
        ClusterPeers peers = new ClusterPeers(config, self);
        WireStats wire = new WireStats(LOG);
        GuardedSocketFactory sockets = new GuardedSocketFactory(new ClusterTls(peers, keys), wire);
        JChannel channel;
        try {
            channel = new JChannel(protocols(config, node, sockets));
        } catch (ClusterException e) {
            sockets.close();
            throw e;
        } catch (Exception e) {
            sockets.close();
            throw new ClusterException("cannot build the cluster stack: " + e.getMessage(), e);
        }
        channel.setName(self);
        channel.setDiscardOwnMessages(true);
        ClusterNode cluster = new ClusterNode(config, self, selfInfo, listener, channel, peers, sockets, wire,
                keys);
        channel.setReceiver(cluster.receiver());
        ExecutorService joiner = Executors.newSingleThreadExecutor();
        java.util.concurrent.Future<?> joining = joiner.submit(() -> {
            channel.connect(config.name());
            return null;
        });
        try {
            joining.get(JOIN_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            // joins keep going unanswered: let JGroups give up, and never act on what it then forms
            cluster.abandoned = true;
            ((GMS) channel.getProtocolStack().findProtocol(GMS.class)).setMaxJoinAttempts(1);
            try {
                joining.get(JOIN_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            } catch (Exception ignored) {
                // closing below is all that is left to do
            }
            channel.close();
            cluster.events.shutdownNow();
            cluster.ticker.shutdownNow();
            sockets.close();
            throw new ClusterException("cannot join cluster " + config.name() + ": peers answer but did not accept"
                    + " node " + self + " within " + JOIN_TIMEOUT_SECONDS + " s; is cluster.key-file the same on every"
                    + " node?");
        } catch (Exception e) {
            channel.close();
            cluster.events.shutdownNow();
            cluster.ticker.shutdownNow();
            sockets.close();
            Throwable cause = e.getCause() == null ? e : e.getCause();
            throw new ClusterException("cannot join cluster " + config.name() + " at " + node.clusterAddress() + ": "
                    + cause.getMessage() + " (is " + node.clusterAddress().host() + " an address of this host?)", cause);
        } finally {
            joiner.shutdownNow();
        }
        java.util.Optional<String> refused = sockets.outboundFailure();
        if (channel.getView().size() == 1 && config.nodes().size() > 1 && refused.isPresent()) {
            // a peer is there but this node could not authenticate with it: never form a second cluster
            cluster.abandoned = true;
            channel.close();
            cluster.events.shutdownNow();
            cluster.ticker.shutdownNow();
            sockets.close();
            throw new ClusterException("cannot join cluster " + config.name() + ": " + refused.get()
                    + "; is cluster.key-file the same on every node?");
        }
        // from its own thread: a busy event thread must not silence this node to its peers
        cluster.ticker.scheduleWithFixedDelay(cluster::broadcastInfo,
                INFO_INTERVAL.toMillis(), INFO_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
        cluster.ticker.scheduleWithFixedDelay(() -> {
            try {
                cluster.events.execute(cluster::repeatDecision);
            } catch (java.util.concurrent.RejectedExecutionException closing) {
                // the node is closing
            }
        }, DECISION_REPEAT.toMillis(), DECISION_REPEAT.toMillis(), TimeUnit.MILLISECONDS);
        LOG.info("node {} joined cluster {} at {} over mutual TLS (peers: {}; {})", self, config.name(),
                node.clusterAddress(), config.nodes().stream().filter(n -> !n.id().equals(self))
                        .map(n -> n.id() + "@" + n.clusterAddress()).collect(Collectors.joining(", ")),
                keyFile == null ? "a key of its own: it is alone in its cluster" : "keys " + keys.get().ids());
        return cluster;
    }

    private static List<Protocol> protocols(ClusterConfig config, NodeConfig node, GuardedSocketFactory sockets)
            throws Exception {
        List<ProtocolConfiguration> stack;
        try (InputStream xml = ClusterNode.class.getResourceAsStream(STACK)) {
            if (xml == null) {
                throw new ClusterException("the cluster stack " + STACK + " is missing from the jar");
            }
            stack = new ArrayList<>(XmlConfigurator.getInstance(xml).getProtocolStack());
        }
        String peers = config.nodes().stream()
                .map(peer -> peer.clusterAddress().host() + "[" + peer.clusterAddress().port() + "]")
                .collect(Collectors.joining(","));
        for (ProtocolConfiguration protocol : stack) {
            if (protocol.getProtocolName().equals(ClusterTransport.class.getName())) {
                protocol.getProperties().put("bind_addr", node.clusterAddress().host());
                protocol.getProperties().put("bind_port", String.valueOf(node.clusterAddress().port()));
                // outbound connections leave from the cluster address too, never from whatever address
                // the kernel picks (a VIP, another interface): peers admit a node only from its address
                protocol.getProperties().put("client_bind_addr", node.clusterAddress().host());
            } else if (protocol.getProtocolName().equals("TCPPING")) {
                protocol.getProperties().put("initial_hosts", peers);
            }
        }
        List<Protocol> protocols = Configurator.createProtocolsAndInitializeAttrs(stack, null);
        ClusterTransport transport = protocols.stream().filter(ClusterTransport.class::isInstance)
                .map(ClusterTransport.class::cast).findFirst()
                .orElseThrow(() -> new ClusterException("the cluster stack " + STACK + " has no ClusterTransport"));
        transport.setSocketFactory(sockets);
        return protocols;
    }

    public String self() {
        return self;
    }

    public Decision decision() {
        return decision;
    }

    /** The node ids in the current view, coordinator first. */
    public List<String> members() {
        return members;
    }

    /** What each member last said of itself (members of the current view only). */
    public Map<String, MemberInfo> infos() {
        return infosSnapshot;
    }

    /** The last info of every configured member not in the view (absent if never seen). */
    public Map<String, MemberInfo> departed() {
        return departed;
    }

    /** When each configured member not in the view left it (absent if never seen). */
    public Map<String, Instant> departedAt() {
        return departedAt;
    }

    /**
     * Whether a configured member not in the view left on purpose: it said it was stopping, or it
     * left the view without the stack ever suspecting it (a killed, lost or cut-off node is suspected).
     */
    public boolean leftOnPurpose(String node) {
        MemberInfo last = departed.get(node);
        return last != null && last.stopping() || leftOnPurpose.contains(node);
    }

    public Optional<Failover> lastFailover() {
        return Optional.ofNullable(lastFailover);
    }

    /**
     * True when a member of the view has adopted a newer decision than this node has: this node's
     * idea of who is active is about to change.
     */
    public boolean behindADecision() {
        long mine = decision.epoch();
        Map<String, Long> seen = epochsSnapshot;
        return members.stream().anyMatch(member -> seen.getOrDefault(member, 0L) > mine);
    }

    public boolean isCoordinator() {
        List<String> view = members;
        return !view.isEmpty() && view.get(0).equals(self);
    }

    /**
     * The members of the view that also have this node in theirs: itself, and those whose multicasts
     * reached it within {@link #AGREE_WINDOW}. Views are not symmetric while they change: a member
     * that suspected this node wrongly installs a view without it, and keeps answering this node's
     * failure detector, so this node keeps it in its view and would count it toward a majority that
     * it has joined elsewhere. While this JVM was itself stalled within the window, silence proves
     * nothing, and every member counts.
     */
    public List<String> agreeingMembers() {
        List<String> view = members;
        StallGuard guard = channel.getProtocolStack().findProtocol(StallGuard.class);
        if (guard != null && guard.stalledWithin(AGREE_WINDOW)) {
            return view;
        }
        long now = System.nanoTime();
        return view.stream().filter(member -> member.equals(self)
                || now - heardAt.getOrDefault(member, Long.MIN_VALUE / 2) < AGREE_WINDOW.toNanos()).toList();
    }

    /** Announces a change of this node (ready, revision, holding) to the cluster. */
    public void update(MemberInfo info) {
        submitUpdate(info);
    }

    /** Announces a change and waits (briefly) until it is sent: for the last word before leaving. */
    public void updateAndWait(MemberInfo info, java.time.Duration wait) {
        try {
            submitUpdate(info).get(wait.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            // the event thread is behind: say it from here, so that the peers hear the last word anyway
            LOG.warn("the cluster thread did not send this node's word within {} ms ({}); sending it directly",
                    wait.toMillis(), e.toString());
            selfInfo = info;
            broadcastInfo();
        }
    }

    private java.util.concurrent.Future<?> submitUpdate(MemberInfo info) {
        return events.submit(() -> {
            selfInfo = info;
            infos.put(self, info);
            noteHolding(self, info);
            infosSnapshot = Map.copyOf(infos);
            broadcastInfo();
            electIfCoordinator(false);
        });
    }

    /**
     * Tells {@code subscriber} of every message that is not membership's own (anything but
     * {@link ClusterMessage.Info} and {@link ClusterMessage.Decided}), of views and of decisions.
     */
    public void subscribe(Subscriber subscriber) {
        subscribers.add(subscriber);
    }

    /**
     * Tells the subscribers what was held for them since the join, in order, and from now on
     * everything at once. Call it when every part of the node has subscribed.
     */
    public void startDelivering() {
        try {
            events.execute(() -> {
                List<Consumer<Subscriber>> backlog = held;
                held = null;
                if (backlog != null) {
                    LOG.debug("{} event(s) held for the subscribers since the join delivered", backlog.size());
                    backlog.forEach(this::tellSubscribers);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException closing) {
            // the node is closing
        }
    }

    /** How many events are held for the subscribers (0 once delivering); for tests. */
    int heldForSubscribers() throws Exception {
        return events.submit(() -> held == null ? 0 : held.size()).get(5, TimeUnit.SECONDS);
    }

    /** Tells every subscriber {@code event}, or holds it until {@link #startDelivering()}; on the event thread. */
    private void tellSubscribers(Consumer<Subscriber> event) {
        if (abandoned) {
            return;
        }
        if (held != null) {
            if (held.size() < MAX_HELD) {
                held.add(event);
            } else if (!heldOverflowed) {
                heldOverflowed = true;
                LOG.warn("{} events held for subscribers that have not started: later ones are dropped", MAX_HELD);
            }
            return;
        }
        for (Subscriber subscriber : subscribers) {
            event.accept(subscriber);
        }
    }

    /** Sends {@code message} to every other member. */
    public void broadcast(ClusterMessage message) {
        send(message);
    }

    /**
     * Sends {@code message} to one member.
     *
     * @return false when {@code node} is not in the current view
     */
    public boolean sendTo(String node, ClusterMessage message) {
        Address address = addresses.get(node);
        if (address == null) {
            return false;
        }
        sendTo(address, message);
        return true;
    }

    /** The ids of the cluster keys this node holds now (two during a rotation). */
    public List<String> keyIds() {
        return keys.get().ids();
    }

    /** What the wire refused: connections and messages, by reason (for /metrics). */
    public WireStats wireStats() {
        return wire;
    }

    /** Leaves the cluster; peers see a new view at once. */
    @Override
    public void close() {
        ticker.shutdownNow();
        channel.close();
        sockets.close();
        events.shutdownNow();
        try {
            events.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private Receiver receiver() {
        return new Receiver() {
            @Override
            public void viewAccepted(View view) {
                boolean merge = view instanceof MergeView;
                List<String> names = view.getMembers().stream().map(ClusterNode.this::name).toList();
                Map<String, Address> byName = byName(view);
                Map<String, Address> before = addresses;
                addresses = Map.copyOf(byName);
                java.util.Set<String> calmlyGone = new java.util.HashSet<>();
                SuspectLog suspects = channel.getProtocolStack().findProtocol(SuspectLog.class);
                before.forEach((id, address) -> {
                    if (!byName.containsKey(id) && suspects != null && !suspects.takeSuspected(address)) {
                        calmlyGone.add(id);
                    }
                });
                if (suspects != null) {
                    suspects.forgetMembers(view.getMembers());
                }
                events.execute(() -> onView(view, names, merge, calmlyGone));
            }

            @Override
            public void receive(Message message) {
                Address source = message.getSrc();
                String sender = name(source);
                String stranger = stranger(source, sender);
                if (stranger != null) {
                    wire.droppedMessage("unknown-sender", stranger);
                    return;
                }
                if (message.getDest() == null) {
                    heardAt.put(sender, System.nanoTime()); // it multicasts to its view: this node is in it
                }
                if (!addresses.containsKey(sender)) {
                    // a member whose name the view did not give yet (see name()), or one that is not in the view
                    events.execute(ClusterNode.this::renameMembers);
                }
                ClusterMessage decoded;
                try {
                    decoded = ClusterCodec.decode(message.getArray(), message.getOffset(), message.getLength());
                } catch (MalformedMessageException e) {
                    wire.droppedMessage("malformed", "from " + sender + ": " + e.getMessage());
                    return;
                }
                events.execute(() -> onMessage(source, sender, decoded));
            }
        };
    }

    /**
     * Why a message's sender is not a configured peer at its configured address; null when it is.
     * The transport only admits authenticated nodes: this keeps one node from speaking as another.
     */
    private String stranger(Address source, String sender) {
        if (!peers.isNode(sender) || sender.equals(self)) {
            return "from \"" + sender + "\", which is " + (sender.equals(self) ? "this node's own name"
                    : "not in cluster.nodes");
        }
        HostPort configured = peers.address(sender).orElseThrow();
        Object physical = channel.down(new Event(Event.GET_PHYSICAL_ADDRESS, source));
        if (physical instanceof IpAddress at && at.getPort() == configured.port()
                && at.getIpAddress().getHostAddress().equals(configured.host())) {
            return null;
        }
        return "from node " + sender + " at " + physical + ", not at its configured address " + configured;
    }

    private void onView(View installed, List<String> view, boolean merge, java.util.Set<String> calmlyGone) {
        processedView = installed;
        java.util.Set<String> onPurpose = new java.util.HashSet<>(leftOnPurpose);
        onPurpose.removeAll(view);
        onPurpose.addAll(calmlyGone);
        leftOnPurpose = java.util.Set.copyOf(onPurpose);
        List<String> before = members;
        members = view;
        Map<String, MemberInfo> gone = new HashMap<>(departed);
        Map<String, Instant> goneAt = new HashMap<>(departedAt);
        Instant now = Instant.now();
        infos.forEach((id, info) -> {
            if (!view.contains(id)) {
                gone.put(id, info);
                goneAt.put(id, now);
            }
        });
        view.forEach(gone::remove);
        view.forEach(goneAt::remove);
        departed = Map.copyOf(gone);
        departedAt = Map.copyOf(goneAt);
        infos.keySet().retainAll(view);
        if (merge) {
            // what the other partitions' members said is stale (a node that was stopped never saw them
            // leave): the merged view is decided on what each member says in it
            infos.keySet().retainAll(java.util.Set.of(self));
        }
        infos.put(self, selfInfo);
        infosSnapshot = Map.copyOf(infos);
        LOG.info("cluster view {}{}: {}", merge ? "after a merge " : "", config.name(), view);
        List<String> left = before.stream().filter(id -> !view.contains(id)).toList();
        if (!left.isEmpty()) {
            LOG.warn("node(s) {} left the cluster", left);
        }
        // a merge is the coordinator's to settle in this view; a later view that is no merge supersedes it
        // (else a member that was not the coordinator then would call its next election a merge)
        mergePending = merge;
        decidedInView = false;
        settled = false;
        if (!abandoned) {
            listener.viewChanged(view);
            tellSubscribers(subscriber -> subscriber.viewChanged(view, merge));
        }
        broadcastInfo();
        electIfCoordinator(merge);
    }

    /**
     * Names the members of the current view again: a member that joined through another coordinator
     * can be in a view before this node knows its name or its address, and is then named by its UUID,
     * which no message of it would match. Its first message makes it known.
     *
     * <p>Only the view this node has taken in is named again: when JGroups has installed a newer
     * one, its own {@link #onView} is on its way, with its merge (taking a merged view for an
     * ordinary one let a node claim the VIPs on the decision of the partition it came from while
     * the merged view's coordinator chose another node: two holders for 80 ms).
     */
    private void renameMembers() {
        if (!viewIsCurrent()) {
            return;
        }
        View view = processedView;
        List<String> names = view.getMembers().stream().map(this::name).toList();
        if (names.equals(members)) {
            return;
        }
        addresses = Map.copyOf(byName(view));
        members = names;
        infos.keySet().retainAll(names);
        infos.put(self, selfInfo);
        infosSnapshot = Map.copyOf(infos);
        LOG.info("cluster view {}: {} (a member's name learnt since the view came)", config.name(), names);
        if (!abandoned) {
            listener.viewChanged(names);
            tellSubscribers(subscriber -> subscriber.viewChanged(names, false));
        }
        broadcastInfo();
        electIfCoordinator(false);
    }

    /** The view this node has taken in is JGroups' current one (no newer view's onView is on its way). */
    private boolean viewIsCurrent() {
        View view = processedView;
        return view != null && view.equals(channel.getView());
    }

    /** This node started a moment ago and has not yet seen every configured node ready in one view. */
    private boolean booting() {
        return !booted && System.nanoTime() - startedAt < BOOT_SETTLE.toNanos();
    }

    private void noteHolding(String member, MemberInfo info) {
        if (info.holding()) {
            everHeld.add(member);
        }
    }

    /**
     * Whether the active role moving on from {@code before} is a failover: the VIPs move from a
     * node that held them (or the cluster had no active node). A node named active that never held
     * them giving way is the election going on: partitions formed at boot (one node's discovery
     * timed out) that merged, a higher priority that joined while the nodes boot.
     */
    private boolean failoverFrom(Decision before, Decision next) {
        return before.epoch() > 0 && !java.util.Objects.equals(before.active(), next.active())
                && (before.active() == null || everHeld.contains(before.active()));
    }

    /**
     * A member's boot ends for good once every configured node is in the view and ready and the
     * view's coordinator says its own boot has ended (the coordinator's ends when it decides knowing
     * them all ready, in {@link #electIfCoordinator}): not sooner, for the members' flags must still
     * say "booting" when the coordinator makes that decision. A later handover stays.
     */
    private void noteWhetherBooted() {
        List<String> view = members;
        if (booted || view.isEmpty() || view.get(0).equals(self)) {
            return;
        }
        String coordinator = view.get(0);
        if (infos.containsKey(coordinator) && !bootingMembers.contains(coordinator)
                && view.size() == config.nodes().size()
                && view.stream().allMatch(member -> infos.containsKey(member) && infos.get(member).ready())) {
            booted = true;
        }
    }

    /** True once the current view's decision was made with every member's info: safe to claim VIPs. */
    public boolean settled() {
        return settled;
    }

    private void updateSettled() {
        boolean now = decidedInView && members.stream().allMatch(infos::containsKey);
        if (now != settled) {
            settled = now;
            if (now && !abandoned) {
                listener.infosChanged();
            }
        }
    }

    private void onMessage(Address source, String sender, ClusterMessage message) {
        if (message instanceof ClusterMessage.Info said) {
            MemberInfo info = new MemberInfo(sender, said.priority(), said.revision(), said.ready(), said.holding(),
                    said.unready(), said.macs(), said.serving());
            if (said.booting()) {
                bootingMembers.add(sender);
            } else {
                bootingMembers.remove(sender);
            }
            epochsSeen.merge(sender, said.epoch(), Math::max);
            epochsSnapshot = Map.copyOf(epochsSeen);
            if (!members.contains(sender) && departed.containsKey(sender)) {
                // its last word (I am stopping) overtook by the view without it: it is how it left
                Map<String, MemberInfo> gone = new HashMap<>(departed);
                gone.put(sender, info);
                departed = Map.copyOf(gone);
            }
            if (!info.equals(infos.get(sender))) {
                infos.put(sender, info);
                noteHolding(sender, info);
                infosSnapshot = Map.copyOf(infos);
                electIfCoordinator(false);
                updateSettled();
                if (!abandoned) {
                    listener.infosChanged();
                }
            }
            noteWhetherBooted();
        } else if (message instanceof ClusterMessage.Decided decided) {
            if (decided.movedAt() > 0 && decision.epoch() == 0 && decided.epoch() > 0) {
                // joining: the cluster's last failover, as its coordinator saw it, is this node's to report
                lastFailover = new Failover(Instant.ofEpochMilli(decided.movedAt()), decided.movedFrom(),
                        decided.active(), decided.reason(), decided.epoch());
            }
            adopt(new Decision(decided.active(), decided.epoch(), decided.reason()), decided.merged());
            if (!members.isEmpty() && members.get(0).equals(sender)) {
                decidedInView = true;
                updateSettled();
            }
        } else {
            tellSubscribers(subscriber -> {
                try {
                    subscriber.received(sender, message);
                } catch (RuntimeException e) {
                    LOG.warn("{} from {} not taken: {}", message.getClass().getSimpleName(), sender, e.toString());
                }
            });
        }
    }

    /**
     * The coordinator says its decision again, unchanged. A member can take in the coordinator's
     * decision for a new view before the view itself (JGroups hands both over on different
     * threads); taking in the view then sets the member back to "not decided in this view", and
     * a coordinator whose decision did not change sent no other: the member never settled and
     * never claimed (ThreeNodeIT: lb2, decided active after lb1 was cut off, held nothing for 30 s).
     */
    private void repeatDecision() {
        if (isCoordinator() && decidedInView && decision.epoch() > 0 && members.size() > 1 && viewIsCurrent()) {
            sendDecision(decision, false);
        }
    }

    /** The coordinator decides for its view, and announces the decision. */
    private void electIfCoordinator(boolean merge) {
        if (!isCoordinator()) {
            return;
        }
        if (!members.stream().allMatch(infos::containsKey)) {
            return; // decide only knowing every member (who holds the VIPs, who is ready)
        }
        if (processedView != null && !viewIsCurrent()) {
            // JGroups installed a newer view, whose onView is on its way: a decision for this one would
            // go to the new view's members, from a node that may no longer coordinate (after a merge,
            // raising the epoch with the merged members' infos that already reach it)
            return;
        }
        boolean merged = merge || mergePending;
        long highestSeen = epochsSeen.values().stream().mapToLong(Long::longValue).max().orElse(0);
        boolean settling = booting() && members.stream().filter(member -> !member.equals(self))
                .allMatch(bootingMembers::contains);
        Election.Outcome outcome = Election.coordinate(new Election.Round(decision, highestSeen,
                members.stream().map(infos::get).toList(), config.nodes().size(), merged, config.preempt(), settling));
        if (outcome.warning() != null) {
            LOG.warn(outcome.warning());
        }
        Decision next = outcome.decision();
        if (outcome.everyoneReady()) {
            booted = true;
        }
        if (merged) {
            mergePending = false;
        }
        if (next.equals(decision)) {
            if (!decidedInView) {
                sendDecision(decision, false); // members that just joined learn who is active
                decidedInView = true;
                updateSettled();
            }
            return;
        }
        sendDecision(next, merged);
        decidedInView = true;
        adopt(next, merged);
        updateSettled();
    }

    private void sendDecision(Decision next, boolean merged) {
        Failover last = lastFailover;
        boolean moving = failoverFrom(decision, next);
        long movedAt = moving ? System.currentTimeMillis() : last == null ? 0 : last.at().toEpochMilli();
        String movedFrom = moving ? decision.active() : last == null ? null : last.from();
        send(new ClusterMessage.Decided(next.active(), next.epoch(), next.reason(), merged, movedAt, movedFrom));
    }

    private void adopt(Decision next, boolean merged) {
        if (!Election.supersedes(next, decision)) {
            return;
        }
        Decision before = decision;
        decision = next;
        epochsSeen.merge(self, next.epoch(), Math::max);
        if (before.epoch() == 0) {
            // the first decision this node adopts: the cluster's first election, or the state of a
            // cluster it joined (whose last failover came with the decision); not a failover
            LOG.info("active node: {} (epoch {}): {}", next.active() == null ? "none" : next.active(), next.epoch(),
                    next.reason());
        } else if (!failoverFrom(before, next) && !java.util.Objects.equals(before.active(), next.active())) {
            LOG.info("active node: {} (epoch {}): {}; {} never held the VIPs: no failover, the election goes on",
                    next.active() == null ? "none" : next.active(), next.epoch(), next.reason(), before.active());
        } else if (!java.util.Objects.equals(before.active(), next.active())) {
            lastFailover = new Failover(Instant.now(), before.active(), next.active(), next.reason(), next.epoch());
            LOG.warn("active role: {} -> {} (epoch {}): {}", before.active() == null ? "none" : before.active(),
                    next.active() == null ? "none" : next.active(), next.epoch(), next.reason());
        }
        if (!abandoned) {
            listener.decided(next, merged);
            tellSubscribers(subscriber -> subscriber.decided(next));
        }
        broadcastInfo();
    }

    /**
     * Says this node's info. Under a lock: the ticker and the event thread both say it, and an info
     * read before an update must not go out after it (receivers keep the last one they got).
     */
    private void broadcastInfo() {
        synchronized (infoLock) {
            MemberInfo info = selfInfo;
            send(new ClusterMessage.Info(info.priority(), info.configRevision(), info.ready(), info.holding(),
                    info.unready(), decision.epoch(), info.macs(), booting(), info.serving()));
        }
    }

    private void send(ClusterMessage message) {
        try {
            channel.send(new BytesMessage(null, ClusterCodec.encode(message)));
        } catch (Exception e) {
            LOG.warn("cannot send to the cluster: {}", e.getMessage());
        }
    }

    private void sendTo(Address member, ClusterMessage message) {
        try {
            channel.send(new BytesMessage(member, ClusterCodec.encode(message)));
        } catch (Exception e) {
            LOG.warn("cannot send to {}: {}", member, e.getMessage());
        }
    }

    /** The view's members by node id. */
    private Map<String, Address> byName(View view) {
        Map<String, Address> byName = new HashMap<>();
        view.getMembers().forEach(member -> byName.put(name(member), member));
        return byName;
    }

    /**
     * A member's node id: its logical name, or, while this node has not learnt that name yet (a
     * member that joined through another coordinator is in the view before its name reaches this
     * node), the configured node at its physical address. The transport admits only authenticated
     * nodes, each from its configured address; a view that named a member by its UUID left this
     * node unable to hear it until the next view.
     */
    private String name(Address address) {
        String logical = String.valueOf(address);
        if (peers.isNode(logical)) {
            return logical;
        }
        Object physical = channel.down(new Event(Event.GET_PHYSICAL_ADDRESS, address));
        if (physical instanceof IpAddress at) {
            return peers.nodeAt(at.getIpAddress(), at.getPort()).orElse(logical);
        }
        return logical;
    }
}
