package io.baton.appliance;

import io.baton.appliance.admin.StatusReport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * What `baton status` says after routine work, with real nodes on loopback: a node stopped on
 * purpose is LEFT (not a possible split brain), the first election is no failover, and a node that
 * rejoins reports the cluster's last failover, not its own arrival.
 */
class ClusterStatusTest {

    @TempDir
    Path work;

    @Test
    void aNodeStoppedOnPurposeIsLeftAndNoSplitBrainIsClaimed() throws Exception {
        try (LoopbackCluster cluster = LoopbackCluster.start(work, 2)) {
            assertThat(cluster.node(1).status().lastFailover()).as("the first election is no failover").isNull();
            assertThat(cluster.node(2).status().lastFailover()).isNull();

            cluster.stop(2);

            StatusReport status = cluster.node(1).status();
            assertThat(node(status, "n2").role()).isEqualTo(StatusReport.ROLE_LEFT);
            // "stopped" when its last word (I am stopping) arrived before the view without it, "left the
            // cluster" when the view came first (a message of a member that leaves may be dropped with it)
            assertThat(node(status, "n2").reason()).matches("(stopped|left the cluster) on purpose at .*");
            assertThat(status.warnings()).noneMatch(warning -> warning.contains("split brain"));
            assertThat(status.lastFailover()).as("a passive node leaving moves nothing").isNull();
        }
    }

    @Test
    void aNodeThatRejoinsReportsTheClustersLastFailoverNotItsOwnArrival() throws Exception {
        try (LoopbackCluster cluster = LoopbackCluster.start(work, 2)) {
            Instant before = Instant.now();
            assertThat(cluster.node(1).failover()).isEqualTo("n2");
            await().atMost(Duration.ofSeconds(5)).until(() -> cluster.node(1).status().lastFailover() != null);
            StatusReport.Failover seen = cluster.node(2).status().lastFailover();
            assertThat(seen.from()).isEqualTo("n1");
            assertThat(seen.to()).isEqualTo("n2");

            cluster.stop(1);
            Instant restarted = Instant.now();
            ApplianceNode one = cluster.restart(1);

            await().atMost(Duration.ofSeconds(10)).until(() -> one.status().lastFailover() != null);
            StatusReport.Failover reported = one.status().lastFailover();
            assertThat(reported.from()).isEqualTo("n1");
            assertThat(reported.to()).isEqualTo("n2");
            assertThat(Instant.parse(reported.at())).isAfterOrEqualTo(before.minusSeconds(1)).isBefore(restarted);
            assertThat(node(one.status(), "n2").role()).isEqualTo(StatusReport.ROLE_ACTIVE);
        }
    }

    private static StatusReport.NodeStatus node(StatusReport status, String id) {
        return status.nodes().stream().filter(node -> node.id().equals(id)).findFirst().orElseThrow();
    }
}
