package io.baton.cluster;

/**
 * Tells whether this process was stalled a moment ago: a watcher thread ticks every
 * {@link #TICK_NANOS}; a tick that comes much later than asked means that no thread of this JVM
 * ran (a pause of the whole JVM, the scheduler starving the process, the VM's host starving the
 * VM). While that is so, a silence of the peers proves nothing about them: their heartbeats may be
 * waiting, unread, in this node's own socket buffers. Pure bookkeeping over the times it is given;
 * {@link StallGuard} runs the thread.
 */
public final class StallWatch {

    /** How often the watcher asks to run. */
    public static final long TICK_NANOS = 10_000_000L;

    private final long stallNanos;
    private final long evidenceNanos;
    private long lastTick;
    private long lastStallEnd;
    private long lastStallLength;

    /**
     * @param stallNanos    how late a tick must come to count as a stall
     * @param evidenceNanos how far back a suspicion's evidence reaches (failure detection's timeout
     *                      plus its verification): a stall in that window taints it
     */
    public StallWatch(long stallNanos, long evidenceNanos, long now) {
        this.stallNanos = stallNanos;
        this.evidenceNanos = evidenceNanos;
        this.lastTick = now;
    }

    /** The watcher ran at {@code now}; returns the stall it ended (in nanoseconds), 0 if none. */
    public synchronized long tick(long now) {
        long late = now - lastTick - TICK_NANOS;
        lastTick = now;
        if (late >= stallNanos) {
            lastStallEnd = now;
            lastStallLength = late + TICK_NANOS;
            return lastStallLength;
        }
        return 0;
    }

    /**
     * Why a suspicion raised at {@code now} may be this node's own stall and not the peer's
     * silence; null when this node ran all through the evidence window.
     */
    public synchronized String stalled(long now) {
        long sinceTick = now - lastTick;
        if (sinceTick >= TICK_NANOS + stallNanos) {
            return "this node's own threads have not run for " + sinceTick / 1_000_000 + " ms";
        }
        if (lastStallEnd != 0 && now - lastStallEnd < evidenceNanos) {
            return "this node itself was stalled for " + lastStallLength / 1_000_000 + " ms, "
                    + (now - lastStallEnd) / 1_000_000 + " ms ago";
        }
        return null;
    }

    /** Whether this process was stalled within the last {@code window} nanoseconds (or is now). */
    public synchronized boolean stalledWithin(long now, long window) {
        return now - lastTick >= TICK_NANOS + stallNanos || lastStallEnd != 0 && now - lastStallEnd < window;
    }
}
