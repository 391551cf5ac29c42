package io.baton.cluster;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class StallWatchTest {

    private static final long MS = 1_000_000L;
    private final StallWatch watch = new StallWatch(50 * MS, 250 * MS, 0);

    @Test
    void aNodeWhoseWatcherRunsOnTimeTrustsItsSuspicions() {
        for (long t = 10; t <= 1_000; t += 12) {
            assertThat(watch.tick(t * MS)).isZero();
        }
        assertThat(watch.stalled(1_001 * MS)).isNull();
    }

    @Test
    void aStallTaintsSuspicionsForTheEvidenceWindowAfterIt() {
        watch.tick(10 * MS);
        assertThat(watch.tick(310 * MS)).isEqualTo(300 * MS); // 300 ms without running

        assertThat(watch.stalled(320 * MS)).isEqualTo("this node itself was stalled for 300 ms, 10 ms ago");
        for (long t = 320; t <= 550; t += 10) {
            watch.tick(t * MS);
        }
        assertThat(watch.stalled(555 * MS)).isNotNull();
        assertThat(watch.stalled(561 * MS)).isNull();
    }

    @Test
    void aSuspicionRaisedBeforeTheWatcherCaughtUpIsTaintedToo() {
        watch.tick(10 * MS);

        // the failure detector ran first after the pause; the watcher has not run since 10 ms
        assertThat(watch.stalled(400 * MS)).isEqualTo("this node's own threads have not run for 390 ms");
    }

    @Test
    void aLateTickBelowTheThresholdIsNoStall() {
        watch.tick(10 * MS);

        assertThat(watch.tick(65 * MS)).isZero(); // 45 ms late
        assertThat(watch.stalled(66 * MS)).isNull();
    }
}
