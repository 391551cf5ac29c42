package io.baton.cluster;

import org.jgroups.Event;
import org.jgroups.annotations.Property;
import org.jgroups.stack.Protocol;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A JGroups protocol, just above VERIFY_SUSPECT2, that holds back a confirmed suspicion while this
 * node itself was stalled during the time its evidence was gathered ({@link StallWatch}). Failure
 * detection is aggressive (a silence of 150 ms, confirmed in 30 ms); a JVM that the scheduler
 * starved for longer reads its peers' heartbeats late and would otherwise remove healthy peers from
 * the view. A suspicion held back costs nothing when it was wrong and, when it was right, one more
 * round of detection (FD_ALL3 raises it again every interval while the peer stays silent).
 */
public final class StallGuard extends Protocol {

    @Property(description = "how late (ms) the watcher's 10 ms tick must come to count as a stall of this JVM")
    private long stall_threshold = 50;

    @Property(description = "how far back (ms) a suspicion's evidence reaches: FD_ALL3's timeout plus"
            + " VERIFY_SUSPECT2's, with a margin")
    private long evidence_window = 250;

    /**
     * How long a streak of held-back suspicions may last: a node starved again and again must not
     * keep a dead or cut-off peer in its view (and its VIPs with it) for as long as it is starved.
     */
    static final long MAX_HOLD_NANOS = 1_000_000_000L;

    private volatile StallWatch watch;
    /** nanoTime of the first and the last suspicion held back in the current streak; 0 when none. */
    private long streakSince;
    private long lastHeldBack;
    private volatile Thread watcher;
    private final AtomicLong heldBack = new AtomicLong();

    @Override
    public void start() throws Exception {
        super.start();
        watch = new StallWatch(stall_threshold * 1_000_000L, evidence_window * 1_000_000L, System.nanoTime());
        Thread thread = new Thread(this::watch, "baton-stall-watch");
        thread.setDaemon(true);
        thread.setPriority(Thread.MAX_PRIORITY);
        watcher = thread;
        thread.start();
    }

    @Override
    public void stop() {
        Thread thread = watcher;
        if (thread != null) {
            thread.interrupt();
        }
        super.stop();
    }

    private void watch() {
        while (!Thread.currentThread().isInterrupted()) {
            LockSupport.parkNanos(StallWatch.TICK_NANOS);
            long stall = watch.tick(System.nanoTime());
            if (stall > 0) {
                log.debug("%s: this JVM did not run for %d ms", local_addr, stall / 1_000_000);
            }
        }
    }

    @Override
    public Object up(Event event) {
        StallWatch current = watch;
        if (event.getType() == Event.SUSPECT && current != null) {
            long now = System.nanoTime();
            String stalled = current.stalled(now);
            if (stalled != null && !streakTooLong(now)) {
                heldBack.incrementAndGet();
                log.warn("%s: not suspecting %s: %s, so its silence may be this node's own", local_addr,
                        event.getArg(), stalled);
                return null;
            }
        }
        return up_prot.up(event);
    }

    /** Whether this JVM was stalled within the last {@code window} (or is now), in a streak shorter than 1 s. */
    public boolean stalledWithin(java.time.Duration window) {
        StallWatch current = watch;
        long now = System.nanoTime();
        return current != null && current.stalledWithin(now, window.toNanos()) && !streakTooLong(now);
    }

    /** True when suspicions have been held back for longer than {@link #MAX_HOLD_NANOS} in a row. */
    private synchronized boolean streakTooLong(long now) {
        if (streakSince == 0 || now - lastHeldBack > MAX_HOLD_NANOS) {
            streakSince = now; // a new streak
        }
        lastHeldBack = now;
        return now - streakSince > MAX_HOLD_NANOS;
    }

    /** How many confirmed suspicions were held back since start. */
    public long heldBack() {
        return heldBack.get();
    }
}
