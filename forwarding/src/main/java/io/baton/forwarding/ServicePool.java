package io.baton.forwarding;

import io.baton.config.BalanceMode;
import io.baton.config.PersistenceType;
import io.baton.config.RealServer;
import io.baton.config.SchedulerKind;
import io.baton.config.ServerState;
import io.baton.config.VirtualService;
import io.baton.forwarding.scheduler.Scheduler;
import io.netty.channel.Channel;

import java.net.InetAddress;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * The real servers of one service and how a new connection chooses among them: persistence
 * first, then the balance mode and the scheduler, then the fallback server. It also holds the
 * service's limits ({@code limits} in the config): how many clients it admits, how many
 * connections each server gets (a chosen server's slot is taken at once), and the queue of those
 * that wait because every usable server is at its maximum, served oldest first as slots free.
 */
public final class ServicePool {

    /** The fallback server's name in statistics; brackets keep it apart from any configured name. */
    public static final String FALLBACK_NAME = "(fallback)";

    private volatile VirtualService config;
    private volatile List<Backend> backends;
    private volatile Backend fallback;
    private volatile Scheduler scheduler;
    private final PersistenceTable persistence;
    private final LongAdder errors = new LongAdder();
    private final AtomicInteger clients = new AtomicInteger();
    private final ArrayDeque<Waiter> queue = new ArrayDeque<>();
    private final LongAdder refusedClients = new LongAdder();
    private final LongAdder queued = new LongAdder();
    private final LongAdder queueFull = new LongAdder();
    private final LongAdder queueTimeouts = new LongAdder();

    /**
     * One request or connection waiting for a server slot: {@code retry} runs on {@code executor}
     * when a slot frees (it chooses again; it may have to wait again, at the front).
     */
    public record Waiter(java.util.concurrent.Executor executor, Runnable retry) {
    }

    public ServicePool(VirtualService config, PersistenceTable persistence) {
        this.persistence = persistence;
        this.backends = List.of();
        update(config);
    }

    public String name() {
        return config.name();
    }

    public VirtualService config() {
        return config;
    }

    public List<Backend> backends() {
        return backends;
    }

    public Optional<Backend> backend(String name) {
        return backends.stream().filter(backend -> backend.name().equals(name)).findFirst();
    }

    public Optional<Backend> fallback() {
        return Optional.ofNullable(fallback);
    }

    /**
     * Takes a new config for this service. Servers that keep their name keep their counters,
     * health and connections; a server set to {@code halt} has its connections closed.
     */
    public synchronized void update(VirtualService newConfig) {
        VirtualService old = config;
        Map<String, Backend> existing = new LinkedHashMap<>();
        backends.forEach(backend -> existing.put(backend.name(), backend));
        List<Backend> next = new ArrayList<>();
        List<Backend> halted = new ArrayList<>();
        for (RealServer server : newConfig.servers()) {
            Backend backend = existing.remove(server.name());
            int max = newConfig.limits().forServer(server);
            if (backend == null) {
                backend = new Backend(server, max);
                backend.whenFreed(this::slotFreed);
            } else {
                if (server.state() == ServerState.HALT && backend.state() != ServerState.HALT) {
                    halted.add(backend);
                }
                backend.update(server, max);
            }
            next.add(backend);
        }
        if (old == null || old.scheduler() != newConfig.scheduler()) {
            scheduler = Scheduler.create(newConfig.scheduler());
        }
        scheduler.configure(newConfig.servers().size());
        if (newConfig.fallback() == null) {
            fallback = null;
        } else if (fallback == null || !fallback.config().address().equals(newConfig.fallback())) {
            fallback = new Backend(new RealServer(FALLBACK_NAME, newConfig.fallback(), 1, ServerState.ONLINE));
        }
        if (old != null && !old.persistence().equals(newConfig.persistence())) {
            persistence.forgetService(newConfig.name());
        }
        config = newConfig;
        backends = List.copyOf(next);
        halted.forEach(Backend::closeConnections);
        // removed servers drain: their connections end on their own
    }

    /**
     * Chooses the server for a new connection from {@code client}, skipping those already tried
     * for it (redispatch), and takes one of its connection slots for {@code holder} (given back by
     * {@link Backend#connectionClosed}). {@link Selection.Reason#BUSY} when the usable servers
     * (or the client's persistent one) have no free slot: the caller may {@link #await} one.
     */
    public Selection choose(InetAddress client, Set<Backend> tried, Channel holder) {
        VirtualService service = config;
        List<Backend> all = backends;
        if (service.persistence().type() == PersistenceType.SOURCE_IP) {
            Optional<String> kept = persistence.lookup(service.name(), client, service.persistence().netmask());
            if (kept.isPresent()) {
                for (Backend backend : all) {
                    if (backend.name().equals(kept.get()) && backend.acceptsPersistent() && !tried.contains(backend)) {
                        // a persistent client waits for its server rather than lose its session
                        return backend.reserve(holder) ? Selection.of(backend, false) : Selection.none(Selection.Reason.BUSY);
                    }
                }
            }
        }
        boolean weighted = service.scheduler() != SchedulerKind.RR && service.scheduler() != SchedulerKind.LC;
        List<Backend> available = new ArrayList<>(all.size());
        boolean anyUsable = false;
        boolean anyFull = false;
        for (Backend backend : all) {
            if (backend.acceptsNew() && (!weighted || backend.weight() > 0)) {
                anyUsable = true;
                if (tried.contains(backend)) {
                    continue;
                }
                if (backend.full()) {
                    anyFull = true;
                } else {
                    available.add(backend);
                }
            }
        }
        while (!available.isEmpty()) {
            Backend chosen = service.balance() == BalanceMode.FAILOVER ? available.get(0)
                    : scheduler.pick(available, PersistenceTable.toInt(client));
            if (chosen.reserve(holder)) {
                return Selection.of(chosen, false);
            }
            available.remove(chosen); // its last slot went to another connection just now
            anyFull = true;
        }
        if (anyFull) {
            return Selection.none(Selection.Reason.BUSY);
        }
        Backend spare = fallback;
        if (spare != null && !tried.contains(spare)) {
            return Selection.of(spare, true);
        }
        return Selection.none(anyUsable ? Selection.Reason.ALL_FAILED : Selection.Reason.NO_HEALTHY_SERVER);
    }

    /**
     * Queues {@code waiter} for a free server slot; false when the queue is full (its length is
     * the service's {@code limits.queue}), which is counted.
     */
    public boolean await(Waiter waiter) {
        synchronized (this) {
            if (queue.size() >= config.limits().queue()) {
                queueFull.increment();
                return false;
            }
            queue.addLast(waiter);
            queued.increment();
        }
        wakeIfFree(); // a slot that freed between the choice and now would wake nobody
        return true;
    }

    /**
     * A waiter that chose again and still found no slot keeps its place at the front. (No wake-up
     * here: the slot it did not get may be on a server it tried already, and waking it again
     * for that slot would spin.)
     */
    public synchronized void awaitAgain(Waiter waiter) {
        queue.addFirst(waiter);
    }

    private void wakeIfFree() {
        for (Backend backend : backends) {
            if (backend.acceptsNew() && !backend.full()) {
                slotFreed();
                return;
            }
        }
    }

    /** Takes {@code waiter} out of the queue; false when it was not in it (a slot came first). */
    public synchronized boolean leave(Waiter waiter) {
        return queue.remove(waiter);
    }

    /** {@code waiter} waited {@code limits.queue-timeout} in vain: counted. */
    public void queueTimedOut() {
        queueTimeouts.increment();
    }

    /** Wakes the oldest waiter (a slot is free, or a woken waiter had gone and passes it on). */
    public void wakeNext() {
        slotFreed();
    }

    private void slotFreed() {
        Waiter next;
        synchronized (this) {
            next = queue.pollFirst();
        }
        if (next != null) {
            next.executor().execute(next.retry());
        }
    }

    /** Admits a new client connection unless the service has {@code limits.max-connections} already. */
    public boolean admitClient() {
        int now;
        do {
            now = clients.get();
            if (now >= config.limits().maxConnections()) {
                refusedClients.increment();
                return false;
            }
        } while (!clients.compareAndSet(now, now + 1));
        return true;
    }

    /** An admitted client connection closed. */
    public void clientLeft() {
        clients.decrementAndGet();
    }

    /** Client connections open now. */
    public int clients() {
        return clients.get();
    }

    /** Client connections refused at {@code limits.max-connections}. */
    public long refusedClients() {
        return refusedClients.sum();
    }

    /** Requests or connections waiting for a server slot now. */
    public synchronized int waiting() {
        return queue.size();
    }

    /** Ever queued; refused for a full queue; given up after {@code limits.queue-timeout}. */
    public long queuedTotal() {
        return queued.sum();
    }

    public long queueFullTotal() {
        return queueFull.sum();
    }

    public long queueTimeoutsTotal() {
        return queueTimeouts.sum();
    }

    /** Called once a connection to {@code backend} is established. */
    public void connected(InetAddress client, Backend backend) {
        VirtualService service = config;
        if (service.persistence().type() == PersistenceType.SOURCE_IP && backend != fallback) {
            persistence.record(service.name(), client, service.persistence().netmask(), backend.name(),
                    service.persistence().timeout());
        }
    }

    public void countError() {
        errors.increment();
    }

    /** Connections refused for want of a server, and other service-level failures. */
    public long errors() {
        return errors.sum();
    }
}
