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
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Runs the kernel-mode services ({@code l4-dr}, {@code l4-nat}, {@code l4-snat}) in nftables. Only
 * the active node programs the tables; a passive node, and a stopped one, has none. Every change
 * (config, health, a real server's MAC) rebuilds the whole script and replaces the tables in one
 * transaction; when the script is what the kernel already runs, nothing is done.
 *
 * <p>Every host call (nft, ARP questions for real servers' MACs, reading the counters) runs on this
 * data plane's own thread, never under the lock that the callers (the HA controller on a takeover,
 * the admin API's status) take: a change records what is wanted and returns, or waits a bounded
 * time for the kernel to have it ({@link #APPLY_WAIT} for a config, {@link #TAKEOVER_WAIT} for a
 * takeover). A host call that hangs costs its own deadline, and the status says NOT PROGRAMMED.
 *
 * <p>In these modes there is no connection table: a drained server is taken out like a halted one
 * (its established flows move with its slots).
 */
public final class KernelDataPlane implements DataPlane, AutoCloseable {

    /** How often unknown real-server MACs (l4-dr) are asked for again. */
    static final long MAC_RETRY_SECONDS = 2;
    /** How long a config apply waits for the kernel to run it before it answers. */
    public static final Duration APPLY_WAIT = Duration.ofSeconds(5);
    /** How long a takeover waits for the tables before it announces the VIPs anyway. */
    public static final Duration TAKEOVER_WAIT = Duration.ofSeconds(2);
    /** How old the counters shown may be. */
    static final long COUNTERS_SECONDS = 1;

    private static final Logger LOG = LogManager.getLogger(KernelDataPlane.class);

    private final KernelHost host;
    private final Map<String, Health> health = new ConcurrentHashMap<>();
    private final Map<String, String> macs = new ConcurrentHashMap<>();
    /** The last failure to ask for a server's MAC, so that each is logged once. */
    private final Map<String, String> macProblems = new ConcurrentHashMap<>();
    /** The one thread that talks to the host. */
    private final ScheduledExecutorService worker = Executors.newSingleThreadScheduledExecutor(runnable -> {
        Thread thread = new Thread(runnable, "baton-kernel");
        thread.setDaemon(true);
        return thread;
    });
    private BatonConfig config;
    /** The config whose real servers' MACs were all asked for (on the worker). */
    private BatonConfig macsAskedFor;
    private boolean active;
    private boolean forwardingEnabled;
    private boolean cleaned;
    /** The script the kernel runs now; null when Baton's tables are absent. Written on the worker only. */
    private volatile String programmed;
    private List<KernelRuleset.Plan> plans = List.of();
    private String problem;
    /** What the worker is doing with the host now, for a change that waits too long; null when idle. */
    private volatile String busyWith;
    /** Counts carried over from tables that were replaced (nft counters restart with their table). */
    private final Map<String, long[]> carried = new HashMap<>();
    /** The counters last read (carried included), for readers that must not wait for nft. */
    private volatile Map<String, long[]> counters = Map.of();
    /** Changes asked for, and the highest one a finished sync covered. */
    private long changes;
    private long synced;
    private boolean syncQueued;
    private final List<Waiter> waiters = new ArrayList<>();

    private record Waiter(long change, CompletableFuture<List<String>> done) {
    }

    public KernelDataPlane(KernelHost host) {
        this.host = host;
        worker.scheduleWithFixedDelay(this::retryMacs, MAC_RETRY_SECONDS, MAC_RETRY_SECONDS, TimeUnit.SECONDS);
        worker.scheduleWithFixedDelay(this::readCounters, COUNTERS_SECONDS, COUNTERS_SECONDS, TimeUnit.SECONDS);
    }

    /** Runs the kernel-mode services of {@code newConfig}; returns problems, one line each (waits {@link #APPLY_WAIT} at most). */
    public List<String> apply(BatonConfig newConfig) {
        CompletableFuture<List<String>> done;
        synchronized (this) {
            this.config = newConfig;
            done = changed();
        }
        return await(done, APPLY_WAIT);
    }

    /**
     * Only the active node programs the tables; taking over waits {@link #TAKEOVER_WAIT} at most for
     * them, and not at all when no service is the kernel's (the VIPs then wait for nothing here: the
     * hop to the worker and back took 1-11 ms of a graceful handover in {@code bench/failover.sh}).
     */
    @Override
    public List<String> setActive(boolean nowActive) {
        CompletableFuture<List<String>> done;
        boolean kernelServices;
        synchronized (this) {
            if (nowActive == active) {
                return List.of();
            }
            active = nowActive;
            kernelServices = config != null
                    && config.services().stream().anyMatch(service -> service.mode().isKernel());
            if (kernelServices) {
                LOG.info("kernel data plane {}", nowActive ? "active: programming nftables" : "passive: no nftables rules");
            }
            done = changed();
        }
        return nowActive && kernelServices ? await(done, TAKEOVER_WAIT) : List.of();
    }

    /** The rules match the VIPs as destinations: they need no address on this host. */
    @Override
    public boolean startsBeforeTheVipsAreAdded() {
        return true;
    }

    /** A health verdict for one server; the table changes only if the server's usability does. */
    public synchronized void setHealth(String service, String server, Health verdict) {
        Health before = health.put(service + "/" + server, verdict);
        if (before != verdict && config != null && config.service(service).map(s -> s.mode().isKernel()).orElse(false)) {
            changed();
        }
    }

    /** Waits, at most {@code limit}, until the kernel has every change asked for so far; returns the problems. */
    public List<String> awaitSynced(Duration limit) {
        CompletableFuture<List<String>> done;
        synchronized (this) {
            done = new CompletableFuture<>();
            if (synced >= changes) {
                done.complete(problem == null ? List.of() : List.of(problem));
            } else {
                waiters.add(new Waiter(changes, done));
            }
        }
        return await(done, limit);
    }

    /** The services as programmed (or as they would be, on a passive node). */
    public synchronized List<KernelRuleset.Plan> plans() {
        return plans;
    }

    public synchronized boolean active() {
        return active;
    }

    /** Why the last programming failed, or why the kernel does not run the latest change yet; null when it does. */
    public synchronized String problem() {
        if (problem == null && synced < changes && busyWith != null) {
            return "waiting for " + busyWith;
        }
        return problem;
    }

    /** Packets and bytes each counter has seen since this node started programming it (read at most a second ago). */
    public Map<String, long[]> counters() {
        Map<String, long[]> copy = new HashMap<>();
        counters.forEach((name, counts) -> copy.put(name, counts.clone()));
        return copy;
    }

    /** Records a change and has the worker bring the kernel to it; the future completes once it has. Under the lock. */
    private CompletableFuture<List<String>> changed() {
        long change = ++changes;
        CompletableFuture<List<String>> done = new CompletableFuture<>();
        waiters.add(new Waiter(change, done));
        if (!syncQueued) {
            syncQueued = true;
            try {
                worker.execute(this::sync);
            } catch (RejectedExecutionException closed) {
                done.complete(List.of("the kernel data plane is closed"));
            }
        }
        return done;
    }

    private List<String> await(CompletableFuture<List<String>> done, Duration limit) {
        try {
            return done.get(limit.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            String doing = busyWith;
            String message = "nftables not programmed within " + limit.toMillis() + " ms"
                    + (doing == null ? "" : ": still waiting for " + doing) + " (it goes on in the background)";
            LOG.error("kernel data plane: {}", message);
            return List.of(message);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return List.of("interrupted while waiting for nftables");
        } catch (ExecutionException e) {
            return List.of(String.valueOf(e.getCause().getMessage()));
        }
    }

    /** On the worker: brings the kernel to the latest change. */
    private void sync() {
        long change;
        BatonConfig current;
        boolean askAll;
        boolean clean;
        synchronized (this) {
            syncQueued = false;
            change = changes;
            current = config;
            askAll = current != null && current != macsAskedFor;
            macsAskedFor = current;
            clean = !cleaned && current != null && current.services().stream().anyMatch(s -> s.mode().isKernel());
            cleaned |= clean;
        }
        List<String> result = List.of();
        if (current != null) {
            if (clean) {
                try {
                    nft(KernelRuleset.removal(), "nft to remove tables left by an earlier run");
                } catch (IOException e) {
                    LOG.warn("cannot remove nftables tables left by an earlier run: {}", e.getMessage());
                }
            }
            if (askAll) {
                resolveMacs(current, false);
            }
            result = program();
        }
        synchronized (this) {
            synced = Math.max(synced, change);
            for (java.util.Iterator<Waiter> it = waiters.iterator(); it.hasNext(); ) {
                Waiter waiter = it.next();
                if (waiter.change() <= synced) {
                    waiter.done().complete(result);
                    it.remove();
                }
            }
        }
    }

    /** On the worker: the script for what is wanted now, and nft when it differs from what the kernel runs. */
    private List<String> program() {
        String script;
        boolean needsForwarding;
        synchronized (this) {
            plans = KernelRuleset.plan(config, this::usable, macs::get);
            boolean any = plans.stream().anyMatch(KernelRuleset.Plan::forwarding);
            try {
                script = active && any ? KernelRuleset.script(plans, this::ownMac) : null;
            } catch (IllegalStateException e) {
                return fail(e.getMessage());
            }
            needsForwarding = script != null && !forwardingEnabled && plans.stream().anyMatch(plan ->
                    plan.service().mode() != ForwardingMode.L4_DR);
        }
        if (java.util.Objects.equals(script, programmed)) {
            synchronized (this) {
                return problem == null ? List.of() : List.of(problem);
            }
        }
        try {
            if (needsForwarding) {
                busyWith = "IPv4 forwarding to be turned on";
                host.enableForwarding();
                forwardingEnabled = true;
            }
            carryCounters();
            nft(script == null ? KernelRuleset.removal() : script, "nft to replace Baton's tables");
            programmed = script;
            synchronized (this) {
                problem = null;
            }
            if (script == null) {
                LOG.info("kernel data plane: nftables tables removed");
            } else {
                for (KernelRuleset.Plan plan : plans()) {
                    LOG.info("kernel service {} ({}): {}", plan.service().name(), plan.service().mode().configName(),
                            plan.servers().isEmpty() ? "no usable server" : plan.servers().stream()
                                    .map(server -> server.name() + " " + server.slots() + "/" + plan.tableSize())
                                    .toList());
                }
            }
            readCounters();
            return List.of();
        } catch (IOException e) {
            synchronized (this) {
                return fail("cannot program nftables: " + e.getMessage());
            }
        } finally {
            busyWith = null;
        }
    }

    private void nft(String script, String doing) throws IOException {
        busyWith = doing;
        try {
            host.nft(script);
        } finally {
            busyWith = null;
        }
    }

    private List<String> fail(String message) {
        problem = message;
        LOG.error("kernel data plane: {}", message);
        return List.of(message);
    }

    /** On the worker, before the tables are replaced: their counts so far. */
    private void carryCounters() {
        if (programmed == null) {
            return;
        }
        try {
            busyWith = "nft to list the counters";
            Map<String, long[]> now = host.counters();
            synchronized (carried) {
                now.forEach((name, counts) -> carried.merge(name, counts.clone(),
                        (a, b) -> new long[] {a[0] + b[0], a[1] + b[1]}));
            }
        } catch (IOException e) {
            LOG.warn("cannot read the nftables counters before replacing the tables: {}", e.getMessage());
        } finally {
            busyWith = null;
        }
    }

    /** On the worker: the counters of the tables the kernel runs, plus those carried over. */
    private void readCounters() {
        Map<String, long[]> totals = new HashMap<>();
        synchronized (carried) {
            carried.forEach((name, counts) -> totals.put(name, counts.clone()));
        }
        if (programmed != null) {
            try {
                host.counters().forEach((name, counts) -> totals.merge(name, counts,
                        (a, b) -> new long[] {a[0] + b[0], a[1] + b[1]}));
            } catch (IOException e) {
                LOG.warn("cannot read the nftables counters: {}", e.getMessage());
                return;
            }
        }
        counters = totals;
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

    /** On the worker: asks for the MACs of l4-dr real servers: every one on a new config, the unknown ones on retries. */
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
                busyWith = "the MAC of real server " + target[1];
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
            } finally {
                busyWith = null;
            }
        }
    }

    /** On the worker: unknown MACs are asked for again; a new one reprograms. */
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
                changed();
            }
        }
    }

    /** Removes Baton's tables (waiting {@link #TAKEOVER_WAIT} at most). */
    @Override
    public void close() {
        Future<?> removal;
        try {
            removal = worker.submit(() -> {
                if (programmed != null) {
                    try {
                        nft(KernelRuleset.removal(), "nft to remove Baton's tables");
                        LOG.info("kernel data plane: nftables tables removed");
                    } catch (IOException e) {
                        LOG.error("cannot remove Baton's nftables tables: {}", e.getMessage());
                    }
                    programmed = null;
                }
            });
        } catch (RejectedExecutionException closed) {
            return;
        }
        try {
            removal.get(TAKEOVER_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            LOG.error("Baton's nftables tables not removed within {} ms (waiting for {})", TAKEOVER_WAIT.toMillis(),
                    busyWith);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            LOG.error("cannot remove Baton's nftables tables: {}", e.getCause().getMessage());
        }
        worker.shutdownNow();
    }
}
