package io.baton.cluster;

import java.util.HashMap;
import java.util.Map;

/**
 * Which suspicions of a peer to hold back because its kernel still answers ({@link PeerKernel}):
 * a process starved or paused by its host is no failure, but one that stays silent for long is
 * (a stopped or hung JVM serves nobody), so a streak of held suspicions of one peer lasts at most
 * {@code holdNanos}, and then they go through. Failure detection raises a suspicion again every
 * few tens of milliseconds while the peer stays silent; a pause of {@link #STREAK_GAP_NANOS}
 * without one ends the streak (the peer spoke again). Pure bookkeeping over the times it is given.
 */
final class PeerHold<P> {

    /** A pause between suspicions of one peer this long means it spoke again: the next is a new streak. */
    static final long STREAK_GAP_NANOS = 500_000_000L;

    /** What to do with a suspicion. */
    enum Verdict {
        /** Hold it back; the first of a streak (worth a log line). */
        HOLD_FIRST,
        /** Hold it back, in a streak already logged. */
        HOLD,
        /** Let it through: the peer's kernel does not answer. */
        THROUGH,
        /** Let it through: the peer's kernel answers, but its process has been silent for the whole hold (the first). */
        THROUGH_AFTER_HOLD,
        /** Let it through, as the streak's {@link #THROUGH_AFTER_HOLD} before it did (already logged). */
        THROUGH_STILL
    }

    private record Streak(long since, long last, boolean through) {
    }

    private final long holdNanos;
    private final Map<P, Streak> streaks = new HashMap<>();

    PeerHold(long holdNanos) {
        this.holdNanos = holdNanos;
    }

    synchronized Verdict suspected(P peer, PeerKernel kernel, long now) {
        streaks.values().removeIf(streak -> now - streak.last() > STREAK_GAP_NANOS);
        if (kernel != PeerKernel.ANSWERING || holdNanos <= 0) {
            streaks.remove(peer);
            return Verdict.THROUGH;
        }
        Streak streak = streaks.get(peer);
        if (streak == null) {
            streaks.put(peer, new Streak(now, now, false));
            return Verdict.HOLD_FIRST;
        }
        boolean through = now - streak.since() >= holdNanos;
        streaks.put(peer, new Streak(streak.since(), now, through));
        if (!through) {
            return Verdict.HOLD;
        }
        return streak.through() ? Verdict.THROUGH_STILL : Verdict.THROUGH_AFTER_HOLD;
    }
}
