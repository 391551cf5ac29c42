package io.baton.cluster.wire;

import org.apache.logging.log4j.LogManager;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

class WireStatsTest {

    private final List<String> logged = new ArrayList<>();
    private final AtomicLong now = new AtomicLong(1_000_000_000_000L);
    private final WireStats stats = new WireStats(LogManager.getLogger(WireStatsTest.class), logged::add, now::get);

    @Test
    void aFloodIsCountedInFullButLoggedOncePerReasonAndInterval() {
        for (int i = 0; i < 10_000; i++) {
            stats.refusedConnection("not-a-node-address", "from 10.0.0." + (i % 250));
        }
        stats.droppedMessage("malformed", "from lb2: unknown type 9");

        assertThat(stats.refusedConnections()).containsEntry("not-a-node-address", 10_000L);
        assertThat(stats.droppedMessages()).containsEntry("malformed", 1L);
        assertThat(logged).containsExactly("cluster connection refused (not-a-node-address): from 10.0.0.0",
                "cluster message dropped (malformed): from lb2: unknown type 9");

        now.addAndGet(WireStats.LOG_EVERY_NANOS + 1);
        stats.refusedConnection("not-a-node-address", "from 10.0.0.7");

        assertThat(logged).last().isEqualTo("cluster connection refused (not-a-node-address): from 10.0.0.7"
                + " (and 9999 more not logged in the last 10 s)");
    }

    @Test
    void quietConnectionsAreCountedAndNeverWarned() {
        stats.quietConnection("closed-before-handshake", "from 127.0.0.2:4000");

        assertThat(stats.refusedConnections()).containsEntry("closed-before-handshake", 1L);
        assertThat(logged).isEmpty();
    }
}
