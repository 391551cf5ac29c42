package io.baton.forwarding.kernel;

import io.baton.config.BatonConfig;
import io.baton.config.ForwardingMode;
import io.baton.config.RealServer;
import io.baton.config.ServerState;
import io.baton.config.VirtualService;
import io.baton.forwarding.DataPlane;
import io.baton.forwarding.Health;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Runs the kernel-mode services ({@code l4-dr}, {@code l4-nat}, {@code l4-snat}) in nftables. Only
 * the active node programs the tables; a passive node, and a stopped one, has none. Every change
 * (config, health, a real server's MAC) rebuilds the whole script and replaces the tables in one
 * transaction; when the script is what the kernel already runs, nothing is done.
 *
 * <p>In these modes there is no connection table: a drained server is taken out like a halted one
 * (its established flows move with its slots).
 */
public final class KernelDataPlane implements DataPlane, AutoCloseable {

    /** How often unknown real-server MACs (l4-dr) are asked for again. */
    static final long MAC_RETRY_SECONDS = 2;

    private static final Logger LOG = LogManager.getLogger(KernelDataPlane.class);

    private final KernelHost host;
    private final Map<String, Health> health = new ConcurrentHashMap<>();
    private final Map<String, String> macs = new ConcurrentHashMap<>();
    /** The last failure to ask for a server's MAC, so that each is logged once. */
    private final Map<String, String> macProblems = new ConcurrentHashMap<>();
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(runnable -> {
        Thread thread = new Thread(runnable, "baton-kernel");
        thread.setDaemon(true);
        return thread;
    });
    private BatonConfig config;
    private boolean active;
    private boolean forwardingEnabled;
    private boolean cleaned;
    /** The script the kernel runs now; null when Baton's tables are absent. */
    private String programmed;
    private List<KernelRuleset.Plan> plans = List.of();
    private String problem;
    /** Counts carried over from tables that were replaced (nft counters restart with their table). */
    private final Map<String, long[]> carried = new HashMap<>();

    public KernelDataPlane(KernelHost host) {
        this.host = host;
        timer.scheduleWithFixedDelay(this::retryMacs, MAC_RETRY_SECONDS, MAC_RETRY_SECONDS, TimeUnit.SECONDS);
    }

    /** Runs the kernel-mode services of {@code newConfig}; returns problems, one line each. */
    public synchronized List<String> apply(BatonConfig newConfig) {
        this.config = newConfig;
        if (!cleaned && newConfig.services().stream().anyMatch(service -> service.mode().isKernel())) {
            cleaned = true;
            try {
                host.nft(KernelRuleset.removal()); // tables a killed earlier run left behind
            } catch (IOException e) {
                LOG.warn("cannot remove nftables tables left by an earlier run: {}", e.getMessage());
            }
        }
        resolveMacs(newConfig, false);
        return program();
    }

    /** Only the active node programs the tables. */
    @Override
    public synchronized List<String> setActive(boolean nowActive) {
        if (nowActive == active) {
            return List.of();
        }
        active = nowActive;
        if (config != null && config.services().stream().anyMatch(service -> service.mode().isKernel())) {
            LOG.info("kernel data plane {}", nowActive ? "active: programming nftables" : "passive: no nftables rules");
        }
        return program();
    }

    /** A health verdict for one server; the table changes only if the server's usability does. */
    public synchronized void setHealth(String service, String server, Health verdict) {
        Health before = health.put(service + "/" + server, verdict);
        if (before != verdict && config != null && config.service(service).map(s -> s.mode().isKernel()).orElse(false)) {
            program();
        }
    }

    /** The services as programmed (or as they would be, on a passive node). */
    public synchronized List<KernelRuleset.Plan> plans() {
        return plans;
    }

    public synchronized boolean active() {
        return active;
    }

    /** Why the last programming failed; null when it worked. */
    public synchronized String problem() {
        return problem;
    }

    /** Packets and bytes each counter has seen since this node started programming it. */
    public synchronized Map<String, long[]> counters() {
        Map<String, long[]> totals = new HashMap<>();
        carried.forEach((name, counts) -> totals.put(name, counts.clone()));
        if (programmed != null) {
            try {
                host.counters().forEach((name, counts) -> totals.merge(name, counts,
                        (a, b) -> new long[] {a[0] + b[0], a[1] + b[1]}));
            } catch (IOException e) {
                LOG.warn("cannot read the nftables counters: {}", e.getMessage());
            }
        }
        return totals;
    }

    private List<String> program() {
        if (config == null) {
            return List.of();
        }
        plans = KernelRuleset.plan(config, this::usable, macs::get);
        boolean any = plans.stream().anyMatch(KernelRuleset.Plan::forwarding);
        String script;
        try {
            script = active && any ? KernelRuleset.script(plans, this::ownMac) : null;
        } catch (IllegalStateException e) {
            return fail(e.getMessage());
        }
        if (java.util.Objects.equals(script, programmed)) {
            return List.of();
        }
        try {
            if (script != null && !forwardingEnabled && plans.stream().anyMatch(plan ->
                    plan.service().mode() != ForwardingMode.L4_DR)) {
                host.enableForwarding();
                forwardingEnabled = true;
            }
            carryCounters();
            host.nft(script == null ? KernelRuleset.removal() : script);
            programmed = script;
            problem = null;
            if (script == null) {
                LOG.info("kernel data plane: nftables tables removed");
            } else {
                for (KernelRuleset.Plan plan : plans) {
                    LOG.info("kernel service {} ({}): {}", plan.service().name(), plan.service().mode().configName(),
                            plan.servers().isEmpty() ? "no usable server" : plan.servers().stream()
                                    .map(server -> server.name() + " " + server.slots() + "/" + plan.tableSize())
                                    .toList());
                }
            }
            return List.of();
        } catch (IOException e) {
            return fail("cannot program nftables: " + e.getMessage());
        }
    }

    private List<String> fail(String message) {
        problem = message;
        LOG.error("kernel data plane: {}", message);
        return List.of(message);
    }

    private void carryCounters() {
        if (programmed == null) {
            return;
        }
        try {
            host.counters().forEach((name, counts) -> carried.merge(name, counts.clone(),
                    (a, b) -> new long[] {a[0] + b[0], a[1] + b[1]}));
        } catch (IOException e) {
            LOG.warn("cannot read the nftables counters before replacing the tables: {}", e.getMessage());
        }
    }

    private String ownMac(String iface) {
        try {
            return host.ownMac(iface);
        } catch (IOException e) {
            throw new IllegalStateException("no MAC for interface " + iface + ": " + e.getMessage());
        }
    }

    private boolean usable(String service, String server) {
        RealServer configured = config.service(service).flatMap(s -> s.server(server)).orElse(null);
        return configured != null && configured.state() == ServerState.ONLINE
                && health.getOrDefault(service + "/" + server, Health.UNKNOWN) != Health.DOWN;
    }

    /** Asks for the MACs of l4-dr real servers: every one on a new config, the unknown ones on retries. */
    private void resolveMacs(BatonConfig current, boolean unknownOnly) {
        List<String[]> wanted = new ArrayList<>();
        for (VirtualService service : current.services()) {
            if (service.mode() != ForwardingMode.L4_DR) {
                continue;
            }
            String iface = current.vip(service.vip()).orElseThrow().iface();
            for (RealServer server : service.servers()) {
                String address = server.address().host();
                if (!unknownOnly || !macs.containsKey(address)) {
                    wanted.add(new String[] {iface, address});
                }
            }
        }
        for (String[] target : wanted) {
            try {
                String mac = host.neighbourMac(target[0], target[1]);
                String before = mac == null ? macs.remove(target[1]) : macs.put(target[1], mac);
                if (mac != null && !mac.equals(before)) {
                    LOG.info("real server {} is at {} on {}", target[1], mac, target[0]);
                } else if (mac == null && before != null) {
                    LOG.warn("real server {} no longer answers ARP on {}", target[1], target[0]);
                }
                macProblems.remove(target[1]);
            } catch (IOException e) {
                if (!e.getMessage().equals(macProblems.put(target[1], e.getMessage()))) {
                    LOG.warn("cannot ask for the MAC of real server {} on {}: {}", target[1], target[0], e.getMessage());
                }
            }
        }
    }

    /** Outside the lock: a takeover (setActive) never waits for an ARP question. */
    private void retryMacs() {
        BatonConfig current;
        synchronized (this) {
            current = config;
        }
        if (current == null) {
            return;
        }
        int known = macs.size();
        resolveMacs(current, true);
        if (macs.size() != known) {
            synchronized (this) {
                program();
            }
        }
    }

    /** Removes Baton's tables. */
    @Override
    public synchronized void close() {
        timer.shutdownNow();
        if (programmed != null) {
            try {
                host.nft(KernelRuleset.removal());
                LOG.info("kernel data plane: nftables tables removed");
            } catch (IOException e) {
                LOG.error("cannot remove Baton's nftables tables: {}", e.getMessage());
            }
            programmed = null;
        }
    }
}
