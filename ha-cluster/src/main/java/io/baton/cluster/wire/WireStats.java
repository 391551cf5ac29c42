package io.baton.cluster.wire;

import org.apache.logging.log4j.Logger;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * What the cluster wire refused, by reason: connections that never became a member's, and
 * messages dropped before they were acted on. Counted for {@code /metrics}; logged at most once
 * per reason every {@link #LOG_EVERY_NANOS}, with how many were not logged since, so that an
 * attacker cannot flood the log.
 */
public final class WireStats {

    static final long LOG_EVERY_NANOS = 10_000_000_000L;

    private final Map<String, LongAdder> connections = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> messages = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> lastLogged = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> unlogged = new ConcurrentHashMap<>();
    private final Logger log;
    private final java.util.function.Consumer<String> warn;
    private final java.util.function.LongSupplier clock;

    public WireStats(Logger log) {
        this(log, log::warn, System::nanoTime);
    }

    /** With where the bounded warnings go and the clock that bounds them (for tests). */
    WireStats(Logger log, java.util.function.Consumer<String> warn, java.util.function.LongSupplier clock) {
        this.log = log;
        this.warn = warn;
        this.clock = clock;
    }

    /** A connection refused or closed before it carried anything. */
    public void refusedConnection(String reason, String detail) {
        connections.computeIfAbsent(reason, key -> new LongAdder()).increment();
        logBounded("connection:" + reason, "cluster connection refused (" + reason + "): " + detail);
    }

    /** A connection closed before it said anything (a port probe): counted, logged only at debug level. */
    public void quietConnection(String reason, String detail) {
        connections.computeIfAbsent(reason, key -> new LongAdder()).increment();
        log.debug("cluster connection closed ({}): {}", reason, detail);
    }

    /** A message dropped before it was parsed or acted on. */
    public void droppedMessage(String reason, String detail) {
        messages.computeIfAbsent(reason, key -> new LongAdder()).increment();
        logBounded("message:" + reason, "cluster message dropped (" + reason + "): " + detail);
    }

    /** Refused connections so far, by reason. */
    public Map<String, Long> refusedConnections() {
        return snapshot(connections);
    }

    /** Dropped messages so far, by reason. */
    public Map<String, Long> droppedMessages() {
        return snapshot(messages);
    }

    private void logBounded(String key, String line) {
        long now = clock.getAsLong();
        AtomicLong last = lastLogged.computeIfAbsent(key, k -> new AtomicLong(now - LOG_EVERY_NANOS - 1));
        long previous = last.get();
        if (now - previous > LOG_EVERY_NANOS && last.compareAndSet(previous, now)) {
            long count = unlogged.computeIfAbsent(key, k -> new LongAdder()).sumThenReset();
            warn.accept(line + (count > 0 ? " (and " + count + " more not logged in the last "
                    + LOG_EVERY_NANOS / 1_000_000_000L + " s)" : ""));
        } else {
            unlogged.computeIfAbsent(key, k -> new LongAdder()).increment();
        }
    }

    private static Map<String, Long> snapshot(Map<String, LongAdder> counters) {
        Map<String, Long> copy = new TreeMap<>();
        counters.forEach((reason, count) -> copy.put(reason, count.sum()));
        return copy;
    }
}
