package io.baton.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.baton.config.ClusterConfig;
import io.baton.config.NodeConfig;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.jgroups.Address;
import org.jgroups.BytesMessage;
import org.jgroups.JChannel;
import org.jgroups.MergeView;
import org.jgroups.Message;
import org.jgroups.Receiver;
import org.jgroups.View;
import org.jgroups.conf.ProtocolConfiguration;
import org.jgroups.conf.XmlConfigurator;
import org.jgroups.protocols.SYM_ENCRYPT;
import org.jgroups.protocols.pbcast.GMS;
import org.jgroups.stack.Configurator;
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
import java.util.stream.Collectors;
import javax.crypto.SecretKey;

/**
 * This node's membership of the cluster: a JGroups channel over TCP to the configured peers,
 * encrypted with the shared key. Members announce themselves ({@link MemberInfo}); the coordinator
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

        /** A peer applied a newer config revision (canonical JSON); store and run it. */
        default void configReceived(long revision, String configJson, String from) {
        }

        /** A member's info changed (readiness, revision, whether it holds the VIPs). */
        default void infosChanged() {
        }
    }

    /** The config this node runs, as peers that fall behind ask for it. */
    private record LocalConfig(long revision, String json) {
    }

    /** When the active role last moved, from where to where and why. */
    public record Failover(Instant at, String from, String to, String reason, long epoch) {
    }

    private static final Logger LOG = LogManager.getLogger(ClusterNode.class);
    private static final String STACK = "/io/baton/cluster/jgroups.xml";
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Joining takes about a second; a node whose joins go unanswered for this long gives up. */
    private static final int JOIN_TIMEOUT_SECONDS = 10;

    private final ClusterConfig config;
    private final String self;
    private final Listener listener;
    private final ExecutorService events;
    private final JChannel channel;
    private final Map<String, MemberInfo> infos = new HashMap<>();
    /** A copy of {@link #infos} for readers on other threads (the map itself is the event thread's). */
    private volatile Map<String, MemberInfo> infosSnapshot = Map.of();
    /** The last word of each member that left the view: did it still hold the VIPs? */
    private volatile Map<String, MemberInfo> departed = Map.of();
    private final Map<String, Long> epochsSeen = new HashMap<>();
    private volatile MemberInfo selfInfo;
    private volatile LocalConfig localConfig = new LocalConfig(0, null);
    private final java.util.Set<Long> requested = new java.util.HashSet<>();
    private volatile Decision decision = Decision.NONE;
    private volatile List<String> members = List.of();
    private volatile Failover lastFailover;
    private boolean mergePending;
    /** The coordinator of the current view has decided, knowing every member's info. */
    private boolean decidedInView;
    private volatile boolean settled;
    /** Set when joining failed: nothing this channel sees may reach the listener. */
    private volatile boolean abandoned;

    private ClusterNode(ClusterConfig config, String self, MemberInfo selfInfo, Listener listener, JChannel channel) {
        this.config = config;
        this.self = self;
        this.selfInfo = selfInfo;
        this.listener = listener;
        this.channel = channel;
        this.events = Executors.newSingleThreadExecutor(runnable -> {
            Thread thread = new Thread(runnable, "baton-cluster");
            thread.setDaemon(true);
            return thread;
        });
    }

    /**
     * Joins the cluster (or forms it, if no peer answers).
     *
     * @param keyFile the shared key; null runs unencrypted (logged as a warning)
     */
    public static ClusterNode join(ClusterConfig config, String self, MemberInfo selfInfo, Path keyFile,
                                   Listener listener) throws ClusterException {
        return join(config, self, selfInfo, null, keyFile, listener);
    }

    /**
     * Joins the cluster running {@code runningConfigJson} (canonical JSON of revision
     * {@code selfInfo.configRevision()}), which peers that fall behind are sent.
     */
    public static ClusterNode join(ClusterConfig config, String self, MemberInfo selfInfo, String runningConfigJson,
                                   Path keyFile, Listener listener) throws ClusterException {
        NodeConfig node = config.node(self).orElseThrow(() ->
                new ClusterException("node " + self + " is not in cluster.nodes"));
        SecretKey key = keyFile == null ? null : ClusterKey.read(keyFile);
        JChannel channel;
        try {
            channel = new JChannel(protocols(config, node, key));
        } catch (ClusterException e) {
            throw e;
        } catch (Exception e) {
            throw new ClusterException("cannot build the cluster stack: " + e.getMessage(), e);
        }
        channel.setName(self);
        channel.setDiscardOwnMessages(true);
        ClusterNode cluster = new ClusterNode(config, self, selfInfo, listener, channel);
        cluster.localConfig = new LocalConfig(selfInfo.configRevision(), runningConfigJson);
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
            throw new ClusterException("cannot join cluster " + config.name() + ": peers answer but did not accept"
                    + " node " + self + " within " + JOIN_TIMEOUT_SECONDS + " s; is cluster.key-file the same on every"
                    + " node?");
        } catch (Exception e) {
            channel.close();
            cluster.events.shutdownNow();
            Throwable cause = e.getCause() == null ? e : e.getCause();
            throw new ClusterException("cannot join cluster " + config.name() + " at " + node.clusterAddress() + ": "
                    + cause.getMessage() + " (is " + node.clusterAddress().host() + " an address of this host?)", cause);
        } finally {
            joiner.shutdownNow();
        }
        if (key == null) {
            LOG.warn("cluster traffic is NOT encrypted or authenticated: set cluster.key-file");
        }
        LOG.info("node {} joined cluster {} at {} (peers: {})", self, config.name(), node.clusterAddress(),
                config.nodes().stream().filter(n -> !n.id().equals(self)).map(n -> n.id() + "@" + n.clusterAddress())
                        .collect(Collectors.joining(", ")));
        return cluster;
    }

    private static List<Protocol> protocols(ClusterConfig config, NodeConfig node, SecretKey key) throws Exception {
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
            switch (protocol.getProtocolName()) {
                case "TCP" -> {
                    protocol.getProperties().put("bind_addr", node.clusterAddress().host());
                    protocol.getProperties().put("bind_port", String.valueOf(node.clusterAddress().port()));
                }
                case "TCPPING" -> protocol.getProperties().put("initial_hosts", peers);
                // unset, FD_SOCK2 listens on every address and tells peers 0.0.0.0: their CONNECT is
                // never answered, and it silently never watches the peer (a kill -9 would then wait
                // for FD_ALL3)
                case "FD_SOCK2" -> protocol.getProperties().put("bind_addr", node.clusterAddress().host());
                default -> {
                }
            }
        }
        if (key == null) {
            stack.removeIf(protocol -> protocol.getProtocolName().equals("SYM_ENCRYPT"));
        }
        List<Protocol> protocols = Configurator.createProtocolsAndInitializeAttrs(stack, null);
        for (Protocol protocol : protocols) {
            if (protocol instanceof SYM_ENCRYPT encrypt) {
                encrypt.setSecretKey(key);
            }
        }
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

    public Optional<Failover> lastFailover() {
        return Optional.ofNullable(lastFailover);
    }

    public boolean isCoordinator() {
        List<String> view = members;
        return !view.isEmpty() && view.get(0).equals(self);
    }

    /** True when this node sees more than half of the configured nodes. */
    public boolean inMajority() {
        return members.size() * 2 > config.nodes().size();
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
            LOG.warn("could not tell the cluster in time: {}", e.toString());
        }
    }

    private java.util.concurrent.Future<?> submitUpdate(MemberInfo info) {
        return events.submit(() -> {
            selfInfo = info;
            infos.put(self, info);
            infosSnapshot = Map.copyOf(infos);
            broadcastInfo();
            electIfCoordinator(false);
        });
    }

    /** The config this node runs now (without telling anyone): what it answers peers that ask. */
    public void runningConfig(long revision, String json) {
        localConfig = new LocalConfig(revision, json);
    }

    /** A config this node applied: every peer stores and runs it under the same revision. */
    public void publishConfig(long revision, String json) {
        LocalConfig config = new LocalConfig(revision, json);
        localConfig = config;
        events.execute(() -> send(configMessage(config)));
    }

    /** The highest config revision any member runs (for numbering the next one). */
    public long highestRevisionSeen() {
        long highest = localConfig.revision();
        for (MemberInfo info : infos().values()) {
            highest = Math.max(highest, info.configRevision());
        }
        return highest;
    }

    /** Leaves the cluster; peers see a new view at once. */
    @Override
    public void close() {
        channel.close();
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
                List<String> names = view.getMembers().stream().map(ClusterNode::name).toList();
                events.execute(() -> onView(names, merge));
            }

            @Override
            public void receive(Message message) {
                byte[] bytes = message.getArray();
                int offset = message.getOffset();
                int length = message.getLength();
                Address source = message.getSrc();
                events.execute(() -> onMessage(source, bytes, offset, length));
            }
        };
    }

    private void onView(List<String> view, boolean merge) {
        List<String> before = members;
        members = view;
        Map<String, MemberInfo> gone = new HashMap<>(departed);
        infos.forEach((id, info) -> {
            if (!view.contains(id)) {
                gone.put(id, info);
            }
        });
        view.forEach(gone::remove);
        departed = Map.copyOf(gone);
        infos.keySet().retainAll(view);
        infos.put(self, selfInfo);
        infosSnapshot = Map.copyOf(infos);
        LOG.info("cluster view {}{}: {}", merge ? "after a merge " : "", config.name(), view);
        List<String> left = before.stream().filter(id -> !view.contains(id)).toList();
        if (!left.isEmpty()) {
            LOG.warn("node(s) {} left the cluster", left);
        }
        if (merge) {
            mergePending = true;
        }
        decidedInView = false;
        settled = false;
        if (!abandoned) {
            listener.viewChanged(view);
        }
        broadcastInfo();
        electIfCoordinator(merge);
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

    private void onMessage(Address source, byte[] bytes, int offset, int length) {
        String sender = name(source);
        JsonNode message;
        try {
            message = JSON.readTree(bytes, offset, length);
        } catch (Exception e) {
            LOG.warn("ignoring an unreadable cluster message from {}", sender);
            return;
        }
        switch (message.path("type").asText()) {
            case "info" -> {
                MemberInfo info = new MemberInfo(sender, message.path("priority").asInt(),
                        message.path("revision").asLong(), message.path("ready").asBoolean(),
                        message.path("holding").asBoolean(), message.path("unready").asText(null));
                epochsSeen.merge(sender, message.path("epoch").asLong(), Math::max);
                if (info.configRevision() > localConfig.revision() && requested.add(info.configRevision())) {
                    LOG.info("{} runs config revision {}, this node {}: asking for it", sender, info.configRevision(),
                            localConfig.revision());
                    sendTo(source, JSON.createObjectNode().put("type", "config-request"));
                }
                if (!info.equals(infos.get(sender))) {
                    infos.put(sender, info);
                    infosSnapshot = Map.copyOf(infos);
                    electIfCoordinator(false);
                    updateSettled();
                    if (!abandoned) {
                        listener.infosChanged();
                    }
                }
            }
            case "decision" -> {
                adopt(new Decision(message.path("active").isNull() ? null : message.path("active").asText(),
                        message.path("epoch").asLong(), message.path("reason").asText()),
                        message.path("merged").asBoolean());
                if (!members.isEmpty() && members.get(0).equals(sender)) {
                    decidedInView = true;
                    updateSettled();
                }
            }
            case "config-request" -> {
                LocalConfig current = localConfig;
                if (current.json() != null) {
                    sendTo(source, configMessage(current));
                }
            }
            case "config" -> {
                long revision = message.path("revision").asLong();
                if (revision > localConfig.revision()) {
                    if (!abandoned) {
                        listener.configReceived(revision, message.path("config").asText(), sender);
                    }
                } else if (revision == localConfig.revision() && localConfig.json() != null
                        && !localConfig.json().equals(message.path("config").asText())) {
                    LOG.error("config conflict: {} sent a different config as revision {}; apply the right one again"
                            + " on one node", sender, revision);
                }
            }
            default -> LOG.warn("ignoring a cluster message of unknown type from {}", sender);
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
        boolean merged = merge || mergePending;
        long highestEpoch = Math.max(decision.epoch(), epochsSeen.values().stream().mapToLong(Long::longValue).max()
                .orElse(0));
        Decision base = decision.epoch() == highestEpoch ? decision
                : new Decision(decision.active(), highestEpoch, decision.reason());
        // the member that holds the VIPs is the active one, whatever a partition decided meanwhile
        List<String> holders = members.stream().map(infos::get)
                .filter(info -> info != null && info.holding()).map(MemberInfo::nodeId).toList();
        if (holders.size() == 1 && !holders.get(0).equals(base.active())) {
            base = new Decision(holders.get(0), base.epoch(), holders.get(0) + " holds the VIPs");
        }
        List<MemberInfo> view = members.stream().map(infos::get).filter(info -> info != null).toList();
        Decision next = Election.decide(base, view, config.preempt());
        if (merged) {
            // after a merge every partition may have its own active: a fresh epoch settles it
            next = new Decision(next.active(), highestEpoch + 1, "partitions merged; " + next.active() + " stays active");
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
        send(JSON.createObjectNode()
                .put("type", "decision")
                .put("active", next.active())
                .put("epoch", next.epoch())
                .put("reason", next.reason())
                .put("merged", merged));
    }

    private void adopt(Decision next, boolean merged) {
        if (next.epoch() < decision.epoch() || next.equals(decision)) {
            return;
        }
        Decision before = decision;
        decision = next;
        epochsSeen.merge(self, next.epoch(), Math::max);
        if (!java.util.Objects.equals(before.active(), next.active())) {
            lastFailover = new Failover(Instant.now(), before.active(), next.active(), next.reason(), next.epoch());
            LOG.warn("active role: {} -> {} (epoch {}): {}", before.active() == null ? "none" : before.active(),
                    next.active() == null ? "none" : next.active(), next.epoch(), next.reason());
        }
        if (!abandoned) {
            listener.decided(next, merged);
        }
        broadcastInfo();
    }

    private void broadcastInfo() {
        MemberInfo info = selfInfo;
        send(JSON.createObjectNode()
                .put("type", "info")
                .put("priority", info.priority())
                .put("revision", info.configRevision())
                .put("ready", info.ready())
                .put("holding", info.holding())
                .put("unready", info.unready())
                .put("epoch", decision.epoch()));
    }

    private void send(ObjectNode message) {
        try {
            channel.send(new BytesMessage(null, JSON.writeValueAsBytes(message)));
        } catch (Exception e) {
            LOG.warn("cannot send to the cluster: {}", e.getMessage());
        }
    }

    private static ObjectNode configMessage(LocalConfig config) {
        return JSON.createObjectNode()
                .put("type", "config")
                .put("revision", config.revision())
                .put("config", config.json());
    }

    private void sendTo(Address member, ObjectNode message) {
        try {
            channel.send(new BytesMessage(member, JSON.writeValueAsBytes(message)));
        } catch (Exception e) {
            LOG.warn("cannot send to {}: {}", member, e.getMessage());
        }
    }


    private static String name(Address address) {
        return String.valueOf(address);
    }
}
