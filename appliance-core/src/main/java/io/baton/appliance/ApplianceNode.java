package io.baton.appliance;

import io.baton.appliance.admin.AdminAccess;
import io.baton.appliance.admin.AdminServer;
import io.baton.appliance.admin.AdminTls;
import io.baton.appliance.admin.AdminTokens;
import io.baton.health.CheckScripts;
import io.baton.appliance.admin.StatusReport;
import io.baton.appliance.ha.HaController;
import io.baton.appliance.metrics.NodeMetrics;
import io.baton.appliance.replication.StateReplication;
import io.baton.cluster.wire.ClusterMessage;
import io.baton.cluster.ClusterException;
import io.baton.cluster.history.AuditTrail;
import io.baton.cluster.history.ConfigHistory;
import io.baton.cluster.history.ServerStates;
import io.baton.host.IpCommand;
import io.baton.host.RawSocketArp;
import io.baton.host.VipGuard;
import io.baton.host.VipManager;
import io.baton.config.BatonConfig;
import io.baton.config.ConfigError;
import io.baton.config.ConfigParser;
import io.baton.config.ConfigStore;
import io.baton.config.ConfigWriter;
import io.baton.config.HostPort;
import io.baton.config.InvalidConfigException;
import io.baton.config.MalformedConfigException;
import io.baton.config.NodeConfig;
import io.baton.config.RealServer;
import io.baton.config.RevisionInfo;
import io.baton.config.ServerState;
import io.baton.config.StoreException;
import io.baton.config.StoredConfig;
import io.baton.config.VirtualService;
import io.baton.forwarding.DataPlane;
import io.baton.forwarding.Health;
import io.baton.forwarding.PersistenceTable;
import io.baton.forwarding.kernel.KernelDataPlane;
import io.baton.forwarding.l7.L7Engine;
import io.baton.health.HealthMonitor;
import io.baton.health.HealthState;
import io.netty.handler.ssl.SslContext;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.logging.log4j.ThreadContext;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;

/**
 * One running appliance node: its config store, its membership of the cluster (which decides
 * whether it holds the VIPs), the L7 forwarding engine, the health checks that steer it, metrics
 * and the admin API.
 */
public final class ApplianceNode implements AutoCloseable {

    private static final Logger LOG = LogManager.getLogger(ApplianceNode.class);
    /** How long a stopping node lets its open client connections finish (those a hand-over left it). */
    static final java.time.Duration CONNECTION_DRAIN = java.time.Duration.ofSeconds(1);

    private final String nodeId;
    private final ConfigStore store;
    private final PersistenceTable persistence = new PersistenceTable(Clock.systemUTC());
    private final L7Engine l7;
    private final HealthMonitor health;
    private final HaController ha;
    private final StateReplication replication;
    /** The active node's health verdicts, by "service/server": used until this node's own checks conclude. */
    private final java.util.Map<String, PeerVerdict> peerVerdicts = new java.util.concurrent.ConcurrentHashMap<>();
    private volatile ConfigHistory history;
    /** The operators' drain / halt / online states: runtime state, over every config revision. */
    private final ServerStates serverStates;
    private final AuditTrail audit;
    private final IpCommand addresses;
    private final RawSocketArp arp;
    private final KernelDataPlane kernel;
    private final NodeMetrics metrics;
    private final AdminServer admin;
    /** The programs this node's external checks may run (its own directory, not the config's). */
    private final CheckScripts scripts;
    private volatile StoredConfig applied;

    private ApplianceNode(String nodeId, ConfigStore store, StoredConfig applied, HostPort adminAddress,
                          AdminAccess access, SslContext adminTls, IpCommand addresses, CheckScripts scripts)
            throws NodeStartException {
        this.nodeId = nodeId;
        this.store = store;
        this.applied = applied;
        this.l7 = new L7Engine(persistence, Runtime.getRuntime().availableProcessors());
        l7.setActive(false); // only the node the cluster makes active listens on the VIPs
        this.addresses = addresses;
        this.arp = new RawSocketArp(addresses);
        this.kernel = new KernelDataPlane(new LinuxKernelHost(addresses, arp));
        this.scripts = scripts;
        this.health = new HealthMonitor((service, server, state, result) -> {
            l7.setHealth(service, server, engineHealth(state));
            kernel.setHealth(service, server, engineHealth(state));
        }, scripts);
        this.metrics = new NodeMetrics(l7, this::wireStats, persistence);
        this.audit = AuditTrail.load(nodeId, store.directory());
        this.serverStates = ServerStates.load(nodeId, store.directory(), new ServerStates.Host() {
            @Override
            public String unknown(String service, String server) {
                BatonConfig config = ApplianceNode.this.applied.config();
                VirtualService target = config.service(service).orElse(null);
                return target == null ? "no service \"" + service + "\""
                        : target.server(server).isEmpty() ? "service \"" + service + "\" has no server \"" + server
                        + "\"" : null;
            }

            @Override
            public void run(java.util.Map<String, ServerStates.Entry> states) {
                ApplianceNode.this.run(ApplianceNode.this.applied);
            }
        });
        run(applied);
        DataPlane dataPlanes = new DataPlane() {
            @Override
            public List<String> setActive(boolean active) {
                List<String> problems = new ArrayList<>(l7.setActive(active));
                problems.addAll(kernel.setActive(active));
                return problems;
            }

            @Override
            public boolean startsBeforeTheVipsAreAdded() {
                return l7.startsBeforeTheVipsAreAdded() && kernel.startsBeforeTheVipsAreAdded();
            }

            @Override
            public void handingOver(boolean handingOver) {
                l7.handingOver(handingOver);
                kernel.handingOver(handingOver);
            }
        };
        try {
            VipManager vips = new VipManager(addresses, arp, null);
            vips.guardWith(VipGuard.start(store.directory().resolve("held-vips")));
            this.ha = HaController.start(nodeId, applied.config(), applied.revision(), dataPlanes, vips, addresses, arp,
                    this::historyUnready);
        } catch (ClusterException | IOException e) {
            kernel.close();
            arp.close();
            health.close();
            l7.close();
            throw new NodeStartException(e.getMessage(), e);
        }
        this.history = ConfigHistory.create(ha.cluster(), store, new ConfigHistory.Host() {
            @Override
            public List<ConfigError> check(BatonConfig config) {
                return NodePrerequisites.check(config, nodeId, addresses, scripts);
            }

            @Override
            public List<String> run(StoredConfig revision) {
                return ApplianceNode.this.run(revision);
            }

            @Override
            public void stateChanged() {
                ha.historyChanged();
            }
        });
        history.start();
        serverStates.follow(ha.cluster(), history::sequencer);
        audit.follow(ha.cluster());
        this.replication = new StateReplication(persistence, ha.cluster(), ha::holding, this::verdicts,
                this::takeVerdicts, Clock.systemUTC());
        ha.cluster().startDelivering(); // every part has subscribed: what came since the join reaches them now
        try {
            this.admin = AdminServer.start(adminAddress, this, access, adminTls);
        } catch (NodeStartException e) {
            replication.close();
            audit.close();
            history.close();
            ha.close();
            kernel.close();
            arp.close();
            health.close();
            l7.close();
            throw e;
        }
    }

    /**
     * Opens the store, settles which config to run (the store's applied revision, or the bootstrap
     * file when the store is empty) and starts the admin API.
     */
    public static ApplianceNode start(NodeOptions options) throws NodeStartException {
        // every thread this node makes inherits its id, and every log line it writes names it
        String before = ThreadContext.get(LOG_NODE);
        ThreadContext.put(LOG_NODE, options.nodeId());
        try {
            return startNode(options);
        } finally {
            restoreLogNode(before);
        }
    }

    /** The log context key that names the node writing a line ({@code %X{node}} in log4j2.xml). */
    private static final String LOG_NODE = "node";

    private static void restoreLogNode(String before) {
        if (before == null) {
            ThreadContext.remove(LOG_NODE);
        } else {
            ThreadContext.put(LOG_NODE, before);
        }
    }

    /** Who may use the admin API: refuses to start one that others can reach without tokens. */
    private static AdminAccess adminAccess(NodeOptions options, HostPort adminAddress) throws NodeStartException {
        AdminTokens tokens = null;
        if (options.adminTokens() != null) {
            try {
                tokens = AdminTokens.load(options.adminTokens());
            } catch (java.io.IOException e) {
                throw new NodeStartException("--admin-tokens: " + e.getMessage(), e);
            }
        }
        String refused = AdminAccess.requireTokens(adminAddress.host(), tokens != null);
        if (refused != null) {
            throw new NodeStartException(refused);
        }
        if (tokens != null) {
            LOG.info("admin API on {}: admits tokens {} only", adminAddress, tokens.names());
        }
        return new AdminAccess(tokens, java.util.Set.copyOf(options.adminHosts()));
    }

    private static ApplianceNode startNode(NodeOptions options) throws NodeStartException {
        SslContext adminTls = AdminTls.load(options.adminCert(), options.adminKey()); // before anything is stored
        ConfigStore store;
        try {
            store = ConfigStore.open(options.stateDir());
        } catch (StoreException e) {
            throw new NodeStartException(e.getMessage(), e);
        }
        try {
            IpCommand addresses = new IpCommand();
            StoredConfig applied = settleConfig(options, store, addresses);
            NodeConfig self = applied.config().cluster().node(options.nodeId()).orElseThrow();
            HostPort adminAddress = options.adminOverride() != null ? options.adminOverride() : self.adminAddress();
            AdminAccess access = adminAccess(options, adminAddress);
            ApplianceNode node = new ApplianceNode(options.nodeId(), store, applied, adminAddress, access, adminTls,
                    addresses, new CheckScripts(options.checksDir()));
            LOG.info("node {} of cluster {} started: config revision {} ({}), admin API on {}://{}",
                    options.nodeId(), applied.config().cluster().name(), applied.revision(), applied.checksum(),
                    adminTls == null ? "http" : "https", node.adminAddress());
            return node;
        } catch (NodeStartException | RuntimeException e) {
            store.close();
            throw e;
        }
    }

    private static StoredConfig settleConfig(NodeOptions options, ConfigStore store, IpCommand addresses)
            throws NodeStartException {
        BatonConfig fromFile = null;
        String fileProblem = null;
        if (options.configFile() != null) {
            try {
                fromFile = ConfigParser.parseFile(options.configFile());
            } catch (NoSuchFileException e) {
                fileProblem = options.configFile() + " does not exist";
            } catch (IOException e) {
                fileProblem = "cannot read " + options.configFile() + ": " + e.getMessage();
            } catch (MalformedConfigException e) {
                fileProblem = options.configFile() + " is " + e.getMessage();
            } catch (InvalidConfigException e) {
                fileProblem = options.configFile() + " is invalid: " + e.getMessage();
            }
        }
        if (store.current().isPresent()) {
            StoredConfig current = store.current().get();
            if (fileProblem != null) {
                LOG.warn("ignoring the bootstrap config: {}; running the applied revision {}", fileProblem,
                        current.revision());
            } else if (fromFile != null && !ConfigWriter.checksum(fromFile).equals(current.checksum())) {
                LOG.warn("{} differs from the applied config revision {}; the applied revision runs."
                        + " To apply the file: baton config apply {}", options.configFile(), current.revision(),
                        options.configFile());
            }
            List<ConfigError> problems = NodePrerequisites.check(current.config(), options.nodeId(), addresses,
                    new CheckScripts(options.checksDir()));
            if (!problems.isEmpty()) {
                throw new NodeStartException("the applied config revision " + current.revision() + " in "
                        + store.directory() + " cannot run on this node: " + describe(problems)
                        + " (fix that on this host and start again; the store is unchanged)");
            }
            return current;
        }
        if (fileProblem != null) {
            throw new NodeStartException("the config store " + store.directory() + " is empty and " + fileProblem);
        }
        if (fromFile == null) {
            throw new NodeStartException("the config store " + store.directory() + " is empty: give --config FILE");
        }
        List<ConfigError> problems = NodePrerequisites.check(fromFile, options.nodeId(), addresses,
                new CheckScripts(options.checksDir()));
        if (!problems.isEmpty()) {
            // nothing is stored: once the operator fixes this, the same command starts the node
            throw new NodeStartException(options.configFile() + " cannot run on this node: " + describe(problems)
                    + " (nothing was stored)");
        }
        try {
            return store.apply(fromFile, "file " + options.configFile().toAbsolutePath());
        } catch (StoreException e) {
            throw new NodeStartException(e.getMessage(), e);
        }
    }

    public String nodeId() {
        return nodeId;
    }

    public StoredConfig applied() {
        return applied;
    }

    public HostPort adminAddress() {
        return admin.address();
    }

    /**
     * Validates {@code config} for this node and has the cluster apply it as its next revision
     * (numbered by the sequencer, stored by every member). Nothing changes when it is rejected.
     *
     * @throws InvalidConfigException naming the fields, when this node or the sequencer cannot run it
     * @throws ConfigHistory.Failed   when the change was not made, or its fate is unknown (the message says)
     */
    public ConfigHistory.Outcome apply(BatonConfig config, String source) throws InvalidConfigException,
            ConfigHistory.Failed, InterruptedException {
        List<ConfigError> problems = NodePrerequisites.check(config, nodeId, addresses, scripts);
        if (!problems.isEmpty()) {
            throw new InvalidConfigException(problems);
        }
        NodeConfig before = applied.config().cluster().node(nodeId).orElseThrow();
        ConfigHistory.Outcome outcome;
        try {
            outcome = history.apply(config, source);
        } catch (ConfigHistory.Refused e) {
            throw new InvalidConfigException(e.errors());
        }
        NodeConfig after = config.cluster().node(nodeId).orElseThrow();
        if (outcome.changed() && !before.adminAddress().equals(after.adminAddress())) {
            LOG.warn("the admin address of node {} changed to {}; it takes effect when the node restarts",
                    nodeId, after.adminAddress());
        }
        return outcome;
    }

    /**
     * Has the cluster apply a revision the sequencer keeps again, as its next revision (a kept
     * revision equal to the applied config changes nothing).
     */
    public ConfigHistory.Outcome rollback(long revision) throws InvalidConfigException, ConfigHistory.Failed,
            InterruptedException {
        try {
            return history.rollback(revision, "rollback to " + revision);
        } catch (ConfigHistory.Refused e) {
            throw new InvalidConfigException(e.errors());
        }
    }

    /** Who changed what, from where and why: every change operators made, through any node. */
    public AuditTrail audit() {
        return audit;
    }

    /** A revision this node keeps, if it does. */
    public java.util.Optional<BatonConfig> keptConfig(long revision) {
        try {
            return java.util.Optional.of(store.revision(revision).config());
        } catch (StoreException e) {
            return java.util.Optional.empty();
        }
    }

    /** This node's place in the cluster's config history, and every member's. */
    public ConfigHistory history() {
        return history;
    }

    private String historyUnready() {
        ConfigHistory current = history;
        return current == null ? "has not yet compared its config history with the cluster's" : current.unready();
    }

    /**
     * Sets an operator state ({@code online}, {@code drain}, {@code halt}) on one real server, for
     * the whole cluster: runtime state, kept across restarts and config applies, not a config revision.
     *
     * @return the version of the cluster's server states that holds it
     * @throws IllegalArgumentException naming the unknown service or server
     */
    public long setServerState(String service, String server, ServerState state, String source)
            throws ServerStates.Failed, InterruptedException {
        String unknown = serverStateTarget(service, server);
        if (unknown != null) {
            throw new IllegalArgumentException(unknown);
        }
        return serverStates.set(service, server, state, source);
    }

    private String serverStateTarget(String service, String server) {
        VirtualService target = applied.config().service(service).orElse(null);
        return target == null ? "no service \"" + service + "\""
                : target.server(server).isEmpty() ? "service \"" + service + "\" has no server \"" + server + "\""
                : null;
    }

    /** The operators' states of real servers, by "service/server". */
    public java.util.Map<String, ServerStates.Entry> serverStates() {
        return serverStates.states();
    }

    /**
     * What applying {@code config} would leave of the operators' server states, one line each: a
     * state that stays although the config says otherwise, and one that no longer applies.
     */
    public List<String> serverStateNotes(BatonConfig config) {
        List<String> notes = new ArrayList<>();
        for (ServerStates.Entry entry : serverStates.states().values()) {
            RealServer server = config.service(entry.service()).flatMap(service -> service.server(entry.server()))
                    .orElse(null);
            if (server == null) {
                notes.add(entry.service() + "/" + entry.server() + ": the " + entry.state().configName() + " set by "
                        + entry.source() + " no longer applies: the server is not in this config");
            } else if (server.state() != entry.state()) {
                notes.add(entry.service() + "/" + entry.server() + " stays " + entry.state().configName()
                        + " (set by " + entry.source() + " at " + entry.at() + "); this config says "
                        + server.state().configName() + ": run `baton " + server.state().configName() + " "
                        + entry.service() + " " + entry.server() + "` to change it");
            }
        }
        return notes;
    }

    /** {@code config} with the operators' server states over the states it names. */
    private BatonConfig withServerStates(BatonConfig config) {
        java.util.Map<String, ServerStates.Entry> states = serverStates.states();
        if (states.isEmpty()) {
            return config;
        }
        List<VirtualService> services = config.services().stream().map(service -> {
            List<RealServer> servers = service.servers().stream().map(real -> {
                ServerStates.Entry entry = states.get(service.name() + "/" + real.name());
                return entry == null || entry.state() == real.state() ? real
                        : real.withState(entry.state());
            }).toList();
            return service.withServers(servers);
        }).toList();
        return config.withServices(services);
    }

    /**
     * Hands a config revision to the data plane, the health checks and the cluster.
     *
     * @return what of it does not run: a listener that cannot bind, nftables that failed to program
     */
    private synchronized List<String> run(StoredConfig revision) {
        applied = revision;
        BatonConfig config = withServerStates(revision.config());
        // a server whose check was removed is back in service at once, whatever its last check said
        // (before the data planes take the config: the tables they program then include it)
        for (VirtualService service : config.services()) {
            if (service.check().type() == io.baton.config.CheckType.NONE) {
                for (RealServer real : service.servers()) {
                    peerVerdicts.remove(service.name() + "/" + real.name());
                    l7.setHealth(service.name(), real.name(), Health.UNKNOWN);
                    kernel.setHealth(service.name(), real.name(), Health.UNKNOWN);
                }
            }
        }
        List<String> problems = new ArrayList<>(l7.apply(config));
        problems.addAll(kernel.apply(config));
        health.apply(config);
        if (ha != null) {
            ha.configApplied(config, revision.revision());
        }
        // servers the engine created anew start as UNKNOWN: give them what the checks already know
        for (HealthMonitor.ServerHealth known : health.snapshot()) {
            if (known.state() != HealthState.UNKNOWN) {
                l7.setHealth(known.service(), known.server(), engineHealth(known.state()));
                kernel.setHealth(known.service(), known.server(), engineHealth(known.state()));
            } else {
                useVerdictIfUnjudged(known.service(), known.server());
            }
        }
        if (!problems.isEmpty()) {
            LOG.error("config revision {} does not run fully on this node: {}", revision.revision(),
                    String.join("; ", problems));
        }
        return problems;
    }

    /** A health verdict the active node sent. */
    private record PeerVerdict(boolean up, String from) {
    }

    /** This node's own verdicts, for the peers (in a stable order, so that an unchanged set is not sent again). */
    private List<ClusterMessage.Verdict> verdicts() {
        return health.snapshot().stream()
                .filter(known -> known.state() != HealthState.UNKNOWN)
                .map(known -> new ClusterMessage.Verdict(known.service(), known.server(),
                        known.state() == HealthState.UP))
                .sorted(java.util.Comparator.comparing(ClusterMessage.Verdict::service)
                        .thenComparing(ClusterMessage.Verdict::server))
                .toList();
    }

    /** The active node's verdicts: they steer every server whose own checks have not concluded here. */
    private void takeVerdicts(List<ClusterMessage.Verdict> verdicts, String from) {
        for (ClusterMessage.Verdict verdict : verdicts) {
            peerVerdicts.put(verdict.service() + "/" + verdict.server(), new PeerVerdict(verdict.up(), from));
            useVerdictIfUnjudged(verdict.service(), verdict.server());
        }
    }

    private void useVerdictIfUnjudged(String service, String server) {
        PeerVerdict verdict = peerVerdicts.get(service + "/" + server);
        if (verdict == null) {
            return;
        }
        boolean unjudged = health.health(service, server).map(known -> known.state() == HealthState.UNKNOWN)
                .orElse(false);
        if (unjudged) {
            Health engine = verdict.up() ? Health.UP : Health.DOWN;
            l7.setHealth(service, server, engine);
            kernel.setHealth(service, server, engine);
        }
    }

    /** What the active node's checks said of a server this node has no verdict on yet; null when nothing. */
    public StatusReport.PeerHealth peerVerdict(String service, String server) {
        PeerVerdict verdict = peerVerdicts.get(service + "/" + server);
        return verdict == null ? null : new StatusReport.PeerHealth(verdict.up() ? "up" : "down", verdict.from());
    }

    private static Health engineHealth(HealthState state) {
        return switch (state) {
            case UP -> Health.UP;
            case DOWN -> Health.DOWN;
            case UNKNOWN -> Health.UNKNOWN;
        };
    }

    /** Hands the active role to the best ready peer; returns its id. */
    public String failover() throws InterruptedException {
        return ha.failover(java.time.Duration.ofSeconds(5));
    }

    /** The source-IP persistence table (replicated from the active node). */
    public PersistenceTable persistence() {
        return persistence;
    }

    public HealthMonitor health() {
        return health;
    }

    /** Listeners that could not be bound, and VIPs that could not be added, one line each. */
    public List<String> listenerProblems() {
        List<String> problems = new java.util.ArrayList<>(ha == null ? List.of() : ha.vipProblems());
        l7.listeners().stream().filter(listener -> !listener.bound()).forEach(listener -> problems.add(listener.error()));
        return problems;
    }

    public L7Engine l7() {
        return l7;
    }

    public String metrics() {
        return metrics.scrape();
    }

    public List<RevisionInfo> revisions() throws StoreException {
        return store.revisions();
    }

    public StatusReport status() {
        return StatusReport.of(nodeId, applied, admin.address(), l7, health, ha, kernel, history, this::peerVerdict,
                serverStates.states(), serverStates.version());
    }

    @Override
    public void close() {
        String before = ThreadContext.get(LOG_NODE);
        ThreadContext.put(LOG_NODE, nodeId);
        try {
            stop();
        } finally {
            restoreLogNode(before);
        }
    }

    private void stop() {
        LOG.info("node {} stopping", nodeId);
        if (ha != null) {
            ha.handOver(); // first: the peer takes over while the rest of this node shuts down
        }
        try {
            int left = l7.awaitClientsGone(CONNECTION_DRAIN);
            if (left > 0) {
                LOG.info("closing {} client connection(s) still open after {} ms", left, CONNECTION_DRAIN.toMillis());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        replication.close();
        serverStates.close();
        audit.close();
        history.close();
        ha.close();
        kernel.close();
        arp.close();
        admin.close();
        health.close();
        l7.close();
        store.close();
        LOG.info("node {} stopped", nodeId);
    }

    private io.baton.cluster.wire.WireStats wireStats() {
        return ha == null ? null : ha.wireStats();
    }

    private static String describe(List<ConfigError> problems) {
        return String.join("; ", problems.stream().map(ConfigError::toString).toList());
    }
}
