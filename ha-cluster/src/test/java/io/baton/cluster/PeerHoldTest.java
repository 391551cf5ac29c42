package io.baton.cluster;

import io.baton.cluster.PeerHold.Verdict;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The bounded hold of suspicions of a peer whose kernel still answers, step by step. */
class PeerHoldTest {

    private static final long MS = 1_000_000L;
    private final PeerHold<String> hold = new PeerHold<>(500 * MS);

    @Test
    void aStalledPeerIsHeldForTheBoundAndThenLetThrough() {
        assertThat(hold.suspected("lb2", PeerKernel.ANSWERING, 1_000 * MS)).isEqualTo(Verdict.HOLD_FIRST);
        // failure detection raises it again every ~60 ms while lb2 stays silent
        for (long t = 1_060; t < 1_500; t += 60) {
            assertThat(hold.suspected("lb2", PeerKernel.ANSWERING, t * MS)).isEqualTo(Verdict.HOLD);
        }
        assertThat(hold.suspected("lb2", PeerKernel.ANSWERING, 1_500 * MS)).isEqualTo(Verdict.THROUGH_AFTER_HOLD);
        assertThat(hold.suspected("lb2", PeerKernel.ANSWERING, 1_560 * MS)).as("said once a streak")
                .isEqualTo(Verdict.THROUGH_STILL);
    }

    @Test
    void aSilentOrUnknownHostIsLetThroughAtOnce() {
        assertThat(hold.suspected("lb2", PeerKernel.SILENT, 0)).isEqualTo(Verdict.THROUGH);
        assertThat(hold.suspected("lb3", PeerKernel.UNKNOWN, 0)).isEqualTo(Verdict.THROUGH);
    }

    @Test
    void aHostThatStopsAnsweringDuringTheHoldIsLetThroughAndStartsAfresh() {
        hold.suspected("lb2", PeerKernel.ANSWERING, 0);
        assertThat(hold.suspected("lb2", PeerKernel.SILENT, 100 * MS)).isEqualTo(Verdict.THROUGH);
        assertThat(hold.suspected("lb2", PeerKernel.ANSWERING, 200 * MS)).isEqualTo(Verdict.HOLD_FIRST);
    }

    @Test
    void aPeerThatSpokeAgainStartsANewStreak() {
        hold.suspected("lb2", PeerKernel.ANSWERING, 0);
        hold.suspected("lb2", PeerKernel.ANSWERING, 400 * MS);
        // no suspicion for longer than the streak gap: lb2's heartbeats came back in between
        long later = 400 * MS + PeerHold.STREAK_GAP_NANOS + MS;
        assertThat(hold.suspected("lb2", PeerKernel.ANSWERING, later)).isEqualTo(Verdict.HOLD_FIRST);
        assertThat(hold.suspected("lb2", PeerKernel.ANSWERING, later + 499 * MS)).isEqualTo(Verdict.HOLD);
    }

    @Test
    void eachPeerHasAStreakOfItsOwn() {
        hold.suspected("lb2", PeerKernel.ANSWERING, 0);
        assertThat(hold.suspected("lb3", PeerKernel.ANSWERING, 450 * MS)).isEqualTo(Verdict.HOLD_FIRST);
        assertThat(hold.suspected("lb2", PeerKernel.ANSWERING, 500 * MS)).isEqualTo(Verdict.THROUGH_AFTER_HOLD);
        assertThat(hold.suspected("lb3", PeerKernel.ANSWERING, 500 * MS)).isEqualTo(Verdict.HOLD);
    }

    @Test
    void aHoldOfZeroHoldsNothing() {
        assertThat(new PeerHold<String>(0).suspected("lb2", PeerKernel.ANSWERING, 0)).isEqualTo(Verdict.THROUGH);
    }
}
