package io.baton.health;

import io.baton.config.BatonConfig;
import io.baton.config.CheckType;
import io.baton.config.RealServer;
import io.baton.config.VipConfig;
import io.baton.config.VirtualService;
import io.baton.health.check.Checker;
import io.baton.health.check.Deadline;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Checks every real server of every service on its own schedule and turns results into UP/DOWN
 * with rise and fall. A server has at most one check in flight (the next starts only once the last
 * has returned), and the pool has a thread for every server, so a check never waits for another.
 * Each check has one overall deadline: at its timeout a watchdog closes the sockets it holds
 * ({@link Deadline#expire}), interrupts it and counts it as failed, so a server that keeps a check
 * busy (an endless greeting, a handshake dribbled byte by byte) costs only its own thread, and only
 * until the timeout.
 * Applying a new config restarts only the checks whose target or settings changed.
 */
public final class HealthMonitor implements AutoCloseable {

    /** Told of every change of a server's state. */
    public interface Listener {
        void changed(String service, String server, HealthState state, CheckResult result);
    }

    /** What is known of one server's health. */
    public record ServerHealth(String service, String server, String check, HealthState state, String streak,
                               CheckResult last) {
    }

    private static final Logger LOG = LogManager.getLogger(HealthMonitor.class);
    /** Threads kept even for a handful of servers. */
    private static final int MIN_WORKERS = 4;
    /** The shortest gap between two reports that a check past its deadline still has not returned. */
    private static final long WATCHDOG_GRACE_MILLIS = 250;

    private record Key(String service, String server) {
    }

    private final Listener listener;
    private final CheckScripts scripts;
    private final ScheduledExecutorService timer;
    private final ThreadPoolExecutor workers;
    private final Map<Key, Probe> probes = new ConcurrentHashMap<>();

    /** A monitor whose external checks run programs of {@link CheckScripts#DEFAULT_DIRECTORY} only. */
    public HealthMonitor(Listener listener) {
        this(listener, new CheckScripts(CheckScripts.DEFAULT_DIRECTORY));
    }

    /** @param scripts the programs an {@code external} check may run */
    public HealthMonitor(Listener listener, CheckScripts scripts) {
        this.listener = listener;
        this.scripts = scripts;
        AtomicInteger threads = new AtomicInteger();
        this.timer = Executors.newSingleThreadScheduledExecutor(runnable -> daemon(runnable, "baton-health-timer"));
        this.workers = new ThreadPoolExecutor(MIN_WORKERS, MIN_WORKERS, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
                runnable -> daemon(runnable, "baton-health-" + threads.incrementAndGet()));
        this.workers.allowCoreThreadTimeOut(true);
    }

    /** Checks what {@code config} asks for: new targets start, changed ones restart, removed ones stop. */
    public synchronized void apply(BatonConfig config) {
        Map<Key, CheckTarget> wanted = new HashMap<>();
        for (VirtualService service : config.services()) {
            if (service.check().type() == CheckType.NONE) {
                continue;
            }
            String vip = config.vip(service.vip()).map(VipConfig::address).orElse("");
            int vipPort = service.ports().get(0);
            for (RealServer server : service.servers()) {
                int port = service.check().port() != null ? service.check().port()
                        : server.address().hasPort() ? server.address().port() : vipPort;
                wanted.put(new Key(service.name(), server.name()), new CheckTarget(service.name(), server.name(), vip,
                        vipPort, server.address().host(), port, service.check()));
            }
        }
        for (Map.Entry<Key, Probe> entry : List.copyOf(probes.entrySet())) {
            CheckTarget target = wanted.get(entry.getKey());
            if (target == null || !target.equals(entry.getValue().target)) {
                entry.getValue().stop();
                probes.remove(entry.getKey());
            }
        }
        int threads = Math.max(MIN_WORKERS, wanted.size());
        if (threads > workers.getMaximumPoolSize()) {
            workers.setMaximumPoolSize(threads);
            workers.setCorePoolSize(threads);
        } else {
            workers.setCorePoolSize(threads);
            workers.setMaximumPoolSize(threads);
        }
        for (Map.Entry<Key, CheckTarget> entry : wanted.entrySet()) {
            probes.computeIfAbsent(entry.getKey(), key -> {
                Probe probe = new Probe(entry.getValue());
                probe.schedule(ThreadLocalRandom.current().nextLong(50, 150));
                return probe;
            });
        }
    }

    public List<ServerHealth> snapshot() {
        List<ServerHealth> result = new ArrayList<>();
        probes.values().forEach(probe -> result.add(probe.health()));
        return result;
    }

    public Optional<ServerHealth> health(String service, String server) {
        return Optional.ofNullable(probes.get(new Key(service, server))).map(Probe::health);
    }

    @Override
    public synchronized void close() {
        probes.values().forEach(Probe::stop);
        probes.clear();
        timer.shutdownNow();
        workers.shutdownNow();
    }

    /** The checks of one server: one at a time, every interval. */
    private final class Probe {

        final CheckTarget target;
        private final Checker checker;
        private final RiseFall riseFall;
        private volatile boolean stopped;
        private volatile CheckResult last;

        Probe(CheckTarget target) {
            this.target = target;
            this.checker = Checker.of(target.check().type(), scripts);
            this.riseFall = new RiseFall(target.check().rise(), target.check().fall());
        }

        void schedule(long delayMillis) {
            if (!stopped) {
                timer.schedule(this::start, delayMillis, TimeUnit.MILLISECONDS);
            }
        }

        private void start() {
            if (stopped) {
                return;
            }
            long started = System.nanoTime();
            Deadline deadline = new Deadline(target.check().timeout());
            AtomicBoolean done = new AtomicBoolean();
            Future<?> running;
            try {
                running = workers.submit(() -> {
                    try {
                        CheckResult result = Checks.run(checker, target, deadline);
                        if (done.compareAndSet(false, true)) {
                            finish(result);
                        }
                    } finally {
                        // the next check only once this one has returned: a server holds one worker at most
                        scheduleNext(started);
                    }
                });
            } catch (java.util.concurrent.RejectedExecutionException closed) {
                return;
            }
            timer.schedule(() -> {
                // the deadline: close what the check holds open (a read, a handshake a server keeps alive
                // byte by byte), interrupt it, and count it as failed now
                if (done.compareAndSet(false, true)) {
                    deadline.expire();
                    running.cancel(true);
                    finish(new CheckResult(false, Checks.expired(deadline), Instant.now(), deadline.timeout()));
                    stuck(running, deadline);
                }
            }, deadline.timeout().toMillis(), TimeUnit.MILLISECONDS);
        }

        /** A check that does not return after its deadline fails again every interval until it does. */
        private void stuck(Future<?> running, Deadline deadline) {
            long interval = Math.max(target.check().interval().toMillis(), WATCHDOG_GRACE_MILLIS);
            try {
                timer.schedule(() -> {
                    if (!running.isDone() && !stopped) {
                        LOG.warn("{}: the check past its deadline has not returned yet ({})", target.label(),
                                deadline.phase());
                        finish(new CheckResult(false, "the previous check has not returned since its deadline ("
                                + deadline.phase() + ")", Instant.now(), deadline.timeout()));
                        stuck(running, deadline);
                    }
                }, interval, TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.RejectedExecutionException closed) {
                // closing
            }
        }

        private void scheduleNext(long startedNanos) {
            long elapsed = (System.nanoTime() - startedNanos) / 1_000_000;
            try {
                schedule(Math.max(0, target.check().interval().toMillis() - elapsed));
            } catch (java.util.concurrent.RejectedExecutionException closed) {
                // closing
            }
        }

        private synchronized void finish(CheckResult result) {
            if (stopped) {
                return;
            }
            last = result;
            HealthState changed = riseFall.record(result.up());
            if (changed != null) {
                String message = "{} {}: {} {} {}";
                Object[] values = {target.label(), changed, target.check().type().configName(), result.reason(),
                        riseFall.streak()};
                if (changed == HealthState.DOWN) {
                    LOG.warn(message, values);
                } else {
                    LOG.info(message, values);
                }
                try {
                    listener.changed(target.service(), target.server(), changed, result);
                } catch (RuntimeException e) {
                    LOG.error("health listener failed for {}", target.label(), e);
                }
            }
        }

        ServerHealth health() {
            synchronized (this) {
                return new ServerHealth(target.service(), target.server(), target.check().type().configName(),
                        riseFall.state(), riseFall.streak(), last);
            }
        }

        void stop() {
            stopped = true;
        }
    }

    private static Thread daemon(Runnable runnable, String name) {
        Thread thread = new Thread(runnable, name);
        thread.setDaemon(true);
        return thread;
    }
}
