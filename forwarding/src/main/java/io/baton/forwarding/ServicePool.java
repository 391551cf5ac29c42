package io.baton.forwarding;

import io.baton.config.BalanceMode;
import io.baton.config.PersistenceType;
import io.baton.config.RealServer;
import io.baton.config.SchedulerKind;
import io.baton.config.ServerState;
import io.baton.config.VirtualService;
import io.baton.forwarding.scheduler.Scheduler;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.LongAdder;

/**
 * The real servers of one service and how a new connection chooses among them: persistence
 * first, then the balance mode and the scheduler, then the fallback server.
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
            if (backend == null) {
                backend = new Backend(server);
            } else {
                if (server.state() == ServerState.HALT && backend.state() != ServerState.HALT) {
                    halted.add(backend);
                }
                backend.update(server);
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
     * for it (redispatch).
     */
    public Selection choose(InetAddress client, Set<Backend> tried) {
        VirtualService service = config;
        List<Backend> all = backends;
        if (service.persistence().type() == PersistenceType.SOURCE_IP) {
            Optional<String> kept = persistence.lookup(service.name(), client, service.persistence().netmask());
            if (kept.isPresent()) {
                for (Backend backend : all) {
                    if (backend.name().equals(kept.get()) && backend.acceptsPersistent() && !tried.contains(backend)) {
                        return Selection.of(backend, false);
                    }
                }
            }
        }
        boolean weighted = service.scheduler() != SchedulerKind.RR && service.scheduler() != SchedulerKind.LC;
        List<Backend> available = new ArrayList<>(all.size());
        boolean anyUsable = false;
        for (Backend backend : all) {
            if (backend.acceptsNew() && (!weighted || backend.weight() > 0)) {
                anyUsable = true;
                if (!tried.contains(backend)) {
                    available.add(backend);
                }
            }
        }
        if (!available.isEmpty()) {
            Backend chosen = service.balance() == BalanceMode.FAILOVER ? available.get(0)
                    : scheduler.pick(available, PersistenceTable.toInt(client));
            return Selection.of(chosen, false);
        }
        Backend spare = fallback;
        if (spare != null && !tried.contains(spare)) {
            return Selection.of(spare, true);
        }
        return Selection.none(anyUsable ? Selection.Reason.ALL_FAILED : Selection.Reason.NO_HEALTHY_SERVER);
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
