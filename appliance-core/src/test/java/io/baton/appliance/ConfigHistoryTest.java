package io.baton.appliance;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.baton.cluster.Decision;
import io.baton.cluster.history.ConfigHistory;
import io.baton.config.ConfigStore;
import io.baton.config.InvalidConfigException;
import io.baton.config.ServerState;
import io.baton.config.StoredConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * The cluster's one config history, with real nodes on loopback: concurrent applies on every node
 * give one history and never move the active role; a member that cannot store a revision is named
 * in the answer and shown behind; a node whose history diverged (an offline rollback) does not roll
 * the cluster back, is shown and kept out of elections, and is resolved by the documented command.
 */
class ConfigHistoryTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path work;

    @ParameterizedTest(name = "{0} nodes")
    @ValueSource(ints = {2, 3})
    void twentyConcurrentAppliesSplitOverTheNodesMakeOneHistoryAndNeverMoveTheActiveRole(int size) throws Exception {
        try (LoopbackCluster cluster = LoopbackCluster.start(work, size)) {
            Decision before = cluster.node(1).status().nodes().isEmpty() ? null : decision(cluster, 1);
            CountDownLatch go = new CountDownLatch(1);
            ExecutorService callers = Executors.newFixedThreadPool(20);
            List<Future<ConfigHistory.Outcome>> answers = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                ApplianceNode target = cluster.node(1 + i % size);
                var config = cluster.config(10 + i);
                int caller = i;
                answers.add(callers.submit(() -> {
                    go.await();
                    return target.apply(config, "caller " + caller);
                }));
            }
            go.countDown();
            Map<Long, String> told = new ConcurrentHashMap<>();
            for (Future<ConfigHistory.Outcome> answer : answers) {
                ConfigHistory.Outcome outcome = answer.get();
                assertThat(outcome.changed()).isTrue();
                assertThat(outcome.stored()).as("every member stores revision " + outcome.revision())
                        .hasSize(size);
                assertThat(outcome.refused()).isEmpty();
                assertThat(told.put(outcome.revision(), outcome.checksum()))
                        .as("revision " + outcome.revision() + " was given to two applies").isNull();
            }
            callers.shutdown();

            assertThat(told).hasSize(20);
            await().atMost(Duration.ofSeconds(10)).until(() -> cluster.nodes().stream()
                    .map(node -> node.applied().revision()).distinct().count() == 1);
            List<String> reference = history(cluster.stateDir(1));
            for (int number = 1; number <= size; number++) {
                assertThat(history(cluster.stateDir(number))).as("n" + number + "'s history").isEqualTo(reference);
            }
            for (Map.Entry<Long, String> answer : told.entrySet()) {
                assertThat(reference).as("what the caller was told").contains(answer.getKey() + " " + answer.getValue());
            }
            assertThat(reference).extracting(line -> Long.parseLong(line.split(" ")[0])).isSorted()
                    .doesNotHaveDuplicates().hasSize(21);
            for (ApplianceNode node : cluster.nodes()) {
                assertThat(decision(cluster, Integer.parseInt(node.nodeId().substring(1))))
                        .as("the active role never moved").isEqualTo(before);
                assertThat(node.status().warnings()).noneMatch(warning -> warning.contains("DIVERGED"));
            }
        }
    }

    @Test
    void aMemberThatCannotRunARevisionIsNamedInTheAnswerAndShownBehindUntilItCan() throws Exception {
        try (LoopbackCluster cluster = LoopbackCluster.start(work, 2)) {
            // a config without n2 in cluster.nodes: the active n1 stores it, n2 cannot run it
            String withoutTwo = Files.readString(cluster.file(30)).replaceAll("(?m)^ *- \\{ id: n2.*\\n", "");
            var config = io.baton.config.ConfigParser.parse(withoutTwo, io.baton.config.ConfigParser.Format.YAML);

            ConfigHistory.Outcome outcome = cluster.node(1).apply(config, "test");

            assertThat(outcome.stored()).containsExactly("n1");
            assertThat(outcome.refused()).containsOnlyKeys("n2");
            assertThat(outcome.refused().get("n2")).contains("cannot run revision 2").contains("n2");
            // n1 runs a config that does not list n2: n2's own status says why it is behind
            await().atMost(Duration.ofSeconds(5)).until(() -> cluster.node(2).status().warnings().stream()
                    .anyMatch(warning -> warning.startsWith("n2 is behind on config revisions: cannot run revision 2")));
            assertThat(cluster.node(2).history().state()).isEqualTo(ConfigHistory.State.BEHIND);
            assertThat(cluster.node(2).applied().revision()).isEqualTo(1);
            assertThat(decision(cluster, 1).active()).isEqualTo("n1");

            // the next revision lists n2 again: n2 stores it, and is in step
            ConfigHistory.Outcome fixed = cluster.node(2).apply(cluster.config(31), "test");
            assertThat(fixed.stored()).containsExactlyInAnyOrder("n1", "n2");
            await().atMost(Duration.ofSeconds(5)).until(() -> cluster.node(1).status().warnings().isEmpty());
        }
    }

    @Test
    void anOfflineRollbackOnAStoppedNodeDoesNotRollTheClusterBackAndIsResolvedByTakingTheClustersHistory()
            throws Exception {
        try (LoopbackCluster cluster = LoopbackCluster.start(work, 2)) {
            cluster.node(2).apply(cluster.config(2), "test");
            ConfigHistory.Outcome newest = cluster.node(1).apply(cluster.config(3), "test");
            await().atMost(Duration.ofSeconds(5)).until(() -> cluster.node(2).applied().revision() == 3);
            cluster.stop(2);
            StoredConfig offline;
            try (ConfigStore store = ConfigStore.openForRecovery(cluster.stateDir(2))) {
                offline = store.rollback(1); // revision 4 on n2 alone: the config of revision 1
            }

            ApplianceNode two = cluster.restart(2);

            await().atMost(Duration.ofSeconds(10)).until(() -> cluster.node(1).status().warnings().stream()
                    .anyMatch(warning -> warning.startsWith("DIVERGED: the config history of n2")));
            assertThat(cluster.node(1).applied().revision()).as("the cluster is not rolled back").isEqualTo(3);
            assertThat(cluster.node(1).applied().checksum()).isEqualTo(newest.checksum());
            assertThat(two.history().state()).isEqualTo(ConfigHistory.State.DIVERGED);
            assertThat(two.status().warnings()).anyMatch(warning -> warning.contains("baton config resolve"));
            assertThat(two.status().nodes()).filteredOn(node -> node.id().equals("n2")).singleElement()
                    .satisfies(node -> {
                        assertThat(node.role()).isEqualTo("FAULT");
                        assertThat(node.reason()).startsWith("has a config history that diverged");
                        assertThat(node.history()).isEqualTo("diverged");
                        assertThat(node.revision()).isEqualTo(4);
                        assertThat(node.checksum()).isEqualTo(offline.checksum());
                    });
            // an apply meanwhile: n2 is named as refusing it, and stores nothing
            ConfigHistory.Outcome meanwhile = cluster.node(1).apply(cluster.config(5), "test");
            assertThat(meanwhile.refused()).containsKey("n2");
            assertThat(two.applied().revision()).isEqualTo(4);

            String resolved = two.history().takeCluster();

            assertThat(resolved).contains("diverged-");
            await().atMost(Duration.ofSeconds(10)).until(() -> two.applied().checksum().equals(meanwhile.checksum())
                    && two.history().state() == ConfigHistory.State.IN_SYNC);
            assertThat(two.applied().revision()).isEqualTo(meanwhile.revision());
            try (Stream<Path> aside = Files.list(cluster.stateDir(2))) {
                Path directory = aside.filter(path -> path.getFileName().toString().startsWith("diverged-"))
                        .findFirst().orElseThrow();
                assertThat(directory.resolve("revision-0000000004.json")).as("set aside, not deleted").exists();
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> cluster.node(1).status().warnings().isEmpty());
            assertThat(decision(cluster, 1).active()).isEqualTo("n1");
        }
    }

    @Test
    void aDivergedNodesConfigCanBePushedAsTheClustersNextRevision() throws Exception {
        try (LoopbackCluster cluster = LoopbackCluster.start(work, 2)) {
            cluster.node(1).apply(cluster.config(2), "test");
            await().atMost(Duration.ofSeconds(5)).until(() -> cluster.node(2).applied().revision() == 2);
            cluster.stop(2);
            StoredConfig offline;
            try (ConfigStore store = ConfigStore.openForRecovery(cluster.stateDir(2))) {
                offline = store.rollback(1);
            }
            ApplianceNode two = cluster.restart(2);
            await().atMost(Duration.ofSeconds(10)).until(() -> two.history().state() == ConfigHistory.State.DIVERGED);
            assertThatThrownBy(() -> cluster.node(1).history().pushLocal())
                    .isInstanceOf(ConfigHistory.Failed.class).hasMessageContaining("has not diverged");

            ConfigHistory.Outcome pushed = two.history().pushLocal();

            assertThat(pushed.checksum()).isEqualTo(offline.checksum());
            assertThat(pushed.revision()).isEqualTo(3);
            await().atMost(Duration.ofSeconds(10)).until(() -> two.history().state() == ConfigHistory.State.IN_SYNC
                    && cluster.node(1).applied().checksum().equals(offline.checksum()));
            assertThat(two.applied().revision()).isEqualTo(3);
        }
    }

    @Test
    void aDrainSetOnAnyNodeIsRuntimeStateOfTheWholeClusterAndANodeThatRejoinsTakesTheClustersStates()
            throws Exception {
        try (LoopbackCluster cluster = LoopbackCluster.start(work, 2)) {
            long version = cluster.node(2).setServerState("web", "rs1", ServerState.DRAIN, "test");

            assertThat(version).isEqualTo(1);
            await().atMost(Duration.ofSeconds(5)).until(() -> cluster.nodes().stream()
                    .allMatch(node -> state(node).equals("drain")));
            assertThat(cluster.nodes()).allMatch(node -> node.applied().revision() == 1);
            assertThatThrownBy(() -> cluster.node(1).setServerState("web", "nobody", ServerState.HALT, "test"))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("has no server \"nobody\"");

            cluster.stop(2);
            cluster.node(1).setServerState("web", "rs1", ServerState.ONLINE, "test");
            ApplianceNode two = cluster.restart(2);

            await().atMost(Duration.ofSeconds(10)).until(() -> state(two).equals("online"));
            assertThat(two.serverStates().get("web/rs1").source()).contains("on n1");
        }
    }

    private static String state(ApplianceNode node) {
        return node.status().services().get(0).servers().get(0).state();
    }

    @Test
    void anInvalidConfigIsRefusedWithItsFieldsAndChangesNothingAnywhere() throws Exception {
        try (LoopbackCluster cluster = LoopbackCluster.start(work, 2)) {
            String withUnknownInterface = Files.readString(cluster.file(7)).replace("interface: lo",
                    "interface: nosuch0");
            var config = io.baton.config.ConfigParser.parse(withUnknownInterface,
                    io.baton.config.ConfigParser.Format.YAML);

            assertThatThrownBy(() -> cluster.node(2).apply(config, "test"))
                    .isInstanceOf(InvalidConfigException.class).hasMessageContaining("vips[0].interface");
            assertThat(cluster.nodes()).allMatch(node -> node.applied().revision() == 1);
        }
    }

    private static Decision decision(LoopbackCluster cluster, int number) {
        var status = cluster.node(number).status();
        var failover = status.lastFailover();
        String active = status.nodes().stream().filter(node -> node.role().equals("ACTIVE"))
                .map(io.baton.appliance.admin.StatusReport.NodeStatus::id).findFirst().orElse(null);
        return new Decision(active, failover == null ? 0 : failover.epoch(), "");
    }

    /** The store's history log as "revision checksum" lines, revisions only. */
    private static List<String> history(Path stateDir) throws Exception {
        List<String> lines = new ArrayList<>();
        for (String line : Files.readAllLines(stateDir.resolve(ConfigStore.HISTORY_FILE))) {
            JsonNode entry = JSON.readTree(line);
            if (entry.has("revision")) {
                lines.add(entry.get("revision").asLong() + " " + entry.get("checksum").asText());
            }
        }
        return lines;
    }
}
