package io.baton.forwarding.scheduler;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

class MaglevTableTest {

    @Test
    void tableSizeIsAPrimeOfAtLeastAHundredSlotsPerServer() {
        assertThat(MaglevTable.tableSize(1)).isEqualTo(101);
        assertThat(MaglevTable.tableSize(2)).isEqualTo(211);
        assertThat(MaglevTable.tableSize(10)).isEqualTo(1009);
        assertThat(MaglevTable.build(names(7), Collections.nCopies(7, 1)).size()).isEqualTo(701);
    }

    @Test
    void equalWeightsShareTheTableWithinOnePercent() {
        for (int servers : new int[] {2, 3, 5, 10, 25}) {
            MaglevTable table = MaglevTable.build(names(servers), Collections.nCopies(servers, 100));
            int[] counts = counts(table, servers);
            double fair = (double) table.size() / servers;
            for (int count : counts) {
                assertThat(Math.abs(count - fair) / fair).as("%d servers: %s", servers, counts).isLessThanOrEqualTo(0.01);
            }
        }
    }

    @Test
    void weightsSetTheSharesWithinOnePercent() {
        List<Integer> weights = List.of(100, 200, 300, 400);
        MaglevTable table = MaglevTable.build(names(4), weights);
        int[] counts = counts(table, 4);
        for (int i = 0; i < 4; i++) {
            double fair = table.size() * weights.get(i) / 1000.0;
            assertThat(Math.abs(counts[i] - fair) / table.size()).as("server %d: %s", i, counts)
                    .isLessThanOrEqualTo(0.01);
        }
    }

    @Test
    void clientsSpreadEvenlyOverTheServers() {
        MaglevTable table = MaglevTable.build(names(4), Collections.nCopies(4, 1));
        int[] hits = new int[4];
        int clients = 400_000;
        for (int ip = 0; ip < clients; ip++) {
            hits[table.lookup(MaglevTable.hashClient(0x0A000000 + ip))]++;
        }
        for (int count : hits) {
            assertThat(Math.abs(count - clients / 4.0) / (clients / 4.0)).isLessThanOrEqualTo(0.01);
        }
    }

    @Test
    void aServerGoingDownMovesLittleMoreThanItsOwnClients() {
        List<String> before = names(10);
        List<String> after = new ArrayList<>(before);
        after.remove("server-3");
        int size = MaglevTable.tableSize(10);
        MaglevTable full = MaglevTable.build(before, Collections.nCopies(10, 1), size);
        MaglevTable reduced = MaglevTable.build(after, Collections.nCopies(9, 1), size);

        int clients = 100_000;
        int movedOthers = 0;
        int ofRemoved = 0;
        for (int ip = 0; ip < clients; ip++) {
            long hash = MaglevTable.hashClient(0xC0A80000 + ip);
            String was = before.get(full.lookup(hash));
            String now = after.get(reduced.lookup(hash));
            if (was.equals("server-3")) {
                ofRemoved++;
            } else if (!was.equals(now)) {
                movedOthers++;
            }
        }
        assertThat(ofRemoved).isBetween(clients / 10 - clients / 100, clients / 10 + clients / 100);
        // Maglev trades a little disruption for balance; the paper measures a few percent.
        assertThat((double) movedOthers / (clients - ofRemoved)).isLessThan(0.05);
    }

    @Test
    void theSameConfigGivesTheSameTableOnEveryNode() {
        List<Integer> weights = List.of(3, 1, 2);
        int[] first = MaglevTable.build(names(3), weights).slots();
        int[] second = MaglevTable.build(new ArrayList<>(names(3)), new ArrayList<>(weights)).slots();
        assertThat(second).isEqualTo(first);
    }

    private static int[] counts(MaglevTable table, int servers) {
        int[] counts = new int[servers];
        for (int slot : table.slots()) {
            counts[slot]++;
        }
        return counts;
    }

    private static List<String> names(int count) {
        return IntStream.range(0, count).mapToObj(i -> "server-" + i).toList();
    }
}
