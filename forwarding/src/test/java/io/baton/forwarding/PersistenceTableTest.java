package io.baton.forwarding;

import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

class PersistenceTableTest {

    private final ServicePoolTest.MutableClock clock = new ServicePoolTest.MutableClock();

    @Test
    void aMillionDistinctClientsNeverTakeTheTableBeyondItsBound() throws Exception {
        PersistenceTable table = new PersistenceTable(clock, PersistenceTable.DEFAULT_MAX_ENTRIES, Runnable::run);
        int peak = 0;
        for (int i = 0; i < 1_000_000; i++) {
            table.record("hl7", client(i), 32, "engine" + (i % 3), Duration.ofMinutes(30));
            if (i % 1000 == 0) {
                clock.advance(Duration.ofMillis(1));
                peak = Math.max(peak, table.size());
            }
        }

        assertThat(peak).isLessThanOrEqualTo(PersistenceTable.DEFAULT_MAX_ENTRIES);
        assertThat(table.size()).isLessThanOrEqualTo(PersistenceTable.DEFAULT_MAX_ENTRIES);
        assertThat(table.snapshot()).hasSizeLessThanOrEqualTo(PersistenceTable.DEFAULT_MAX_ENTRIES);
        // a full table made room by dropping the clients closest to expiring: the newest are pinned
        table.record("hl7", client(1_000_001), 32, "engine1", Duration.ofMinutes(30));
        assertThat(table.lookup("hl7", client(1_000_001), 32)).hasValue("engine1");
        assertThat(table.refusedWhenFull()).isPositive();
    }

    @Test
    void expiredEntriesAreSweptAwayWhileClientsKeepComing() throws Exception {
        PersistenceTable table = new PersistenceTable(clock, 1000, Runnable::run);
        for (int i = 0; i < 500; i++) {
            table.record("dicom", client(i), 32, "pacs1", Duration.ofSeconds(5));
        }
        assertThat(table.size()).isEqualTo(500);

        clock.advance(PersistenceTable.SWEEP_EVERY.plusSeconds(1));
        table.record("dicom", client(9999), 32, "pacs2", Duration.ofSeconds(5));

        assertThat(table.size()).as("the 500 expired clients are gone, the new one stays").isEqualTo(1);
        assertThat(table.lookup("dicom", client(9999), 32)).hasValue("pacs2");
    }

    @Test
    void aRefreshedClientKeepsItsPlaceInAFullTable() throws Exception {
        PersistenceTable table = new PersistenceTable(clock, 10, command -> { });
        for (int i = 0; i < 10; i++) {
            table.record("web", client(i), 32, "viewer1", Duration.ofMinutes(1));
        }
        table.record("web", client(99), 32, "viewer2", Duration.ofMinutes(1));
        table.record("web", client(3), 32, "viewer2", Duration.ofMinutes(1));

        assertThat(table.size()).isEqualTo(10);
        assertThat(table.lookup("web", client(99), 32)).as("full and no sweep yet: not pinned").isEmpty();
        assertThat(table.lookup("web", client(3), 32)).as("a known client is refreshed").hasValue("viewer2");
    }

    @Test
    void aPeersEntryIsMergedWithinTheBoundAndTheLaterExpiryWins() throws Exception {
        PersistenceTable table = new PersistenceTable(clock, 10, Runnable::run);
        long now = clock.millis();
        table.merge(new PersistenceTable.Entry("web", "10.0.0.1", "viewer1", now + 1000));
        table.merge(new PersistenceTable.Entry("web", "10.0.0.1", "viewer2", now + 500));
        table.merge(new PersistenceTable.Entry("web", "10.0.0.2", "viewer2", now - 1));

        assertThat(table.lookup("web", InetAddress.getByName("10.0.0.1"), 32)).hasValue("viewer1");
        assertThat(table.size()).as("an expired entry from a peer is not taken").isEqualTo(1);
    }

    @Test
    void newAndMovedClientsAreDrainedOnceForThePeersAndAllAgainWhenAMemberJoins() throws Exception {
        PersistenceTable table = new PersistenceTable(clock, 100, Runnable::run);
        table.record("web", client(1), 32, "viewer1", Duration.ofMinutes(30));
        table.record("web", client(2), 32, "viewer2", Duration.ofMinutes(30));
        table.merge(new PersistenceTable.Entry("web", "10.0.0.9", "viewer1", clock.millis() + 60_000));

        assertThat(table.drainChanges(10)).extracting(PersistenceTable.Entry::client)
                .as("what this node recorded, not what a peer told it").containsExactlyInAnyOrder("10.0.0.1", "10.0.0.2");
        assertThat(table.drainChanges(10)).isEmpty();

        table.record("web", client(1), 32, "viewer1", Duration.ofMinutes(30)); // a refresh: nothing to tell yet
        table.record("web", client(2), 32, "viewer1", Duration.ofMinutes(30)); // moved: tell at once
        assertThat(table.drainChanges(10)).extracting(PersistenceTable.Entry::server).containsExactly("viewer1");

        table.markAllChanged();
        assertThat(table.drainChanges(2)).hasSize(2);
        assertThat(table.drainChanges(10)).hasSize(1);
    }

    private static InetAddress client(int i) throws Exception {
        return InetAddress.getByAddress(new byte[] {10, (byte) (i >>> 16), (byte) (i >>> 8), (byte) i});
    }
}
