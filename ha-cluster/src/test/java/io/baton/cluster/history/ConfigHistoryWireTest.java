package io.baton.cluster.history;

import io.baton.cluster.ClusterNode;
import io.baton.cluster.MemberInfo;
import io.baton.cluster.wire.ClusterKeys;
import io.baton.cluster.wire.ClusterMessage;
import io.baton.config.BatonConfig;
import io.baton.config.ConfigError;
import io.baton.config.ConfigParser;
import io.baton.config.ConfigStore;
import io.baton.config.ConfigWriter;
import io.baton.config.StoredConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The history's messages from members that should not send them, replayed, or damaged: two real
 * nodes on loopback (lb1 numbers revisions), each with its own store.
 */
class ConfigHistoryWireTest {

    @TempDir
    Path dir;

    private final List<AutoCloseable> closeLast = new CopyOnWriteArrayList<>();
    private final List<Long> ran = new CopyOnWriteArrayList<>();
    private String template;
    private ClusterNode lb1;
    private ClusterNode lb2;
    private ConfigStore store1;
    private ConfigStore store2;
    private ConfigHistory history1;
    private ConfigHistory history2;
    private ServerStates states1;
    private ServerStates states2;
    private final List<String> statesRun = new CopyOnWriteArrayList<>();

    @BeforeEach
    void startPair() throws Exception {
        Path key = dir.resolve("cluster.key");
        ClusterKeys.generate(key);
        template = """
                cluster:
                  name: wire-%d
                  key-file: %s
                  nodes:
                    - { id: lb1, address: 127.0.0.1:%d, priority: 200 }
                    - { id: lb2, address: 127.0.0.1:%d, priority: 100 }
                vips: [{ name: front, address: 127.0.0.105/32, interface: lo }]
                services:
                  - name: web
                    vip: front
                    ports: [8080]
                    mode: l7-snat
                    l7: http
                    servers: [{ name: rs1, address: 127.0.0.1:9, weight: WEIGHT }]
                """.formatted(freePort(), key, freePort(), freePort());
        BatonConfig first = config(1);
        store1 = ConfigStore.open(dir.resolve("lb1"));
        store2 = ConfigStore.open(dir.resolve("lb2"));
        closeLast.add(store1);
        closeLast.add(store2);
        store1.apply(first, "test");
        store2.apply(first, "test");
        lb1 = ClusterNode.join(first.cluster(), "lb1", new MemberInfo("lb1", 200, 1, true), key, (d, m) -> {
        });
        closeLast.add(0, lb1);
        await().atMost(Duration.ofSeconds(10)).until(() -> "lb1".equals(lb1.decision().active()));
        lb2 = ClusterNode.join(first.cluster(), "lb2", new MemberInfo("lb2", 100, 1, true), key, (d, m) -> {
        });
        closeLast.add(0, lb2);
        history1 = ConfigHistory.create(lb1, store1, host()).start();
        history2 = ConfigHistory.create(lb2, store2, host()).start();
        closeLast.add(0, history1);
        closeLast.add(0, history2);
        states1 = ServerStates.load("lb1", dir.resolve("lb1"), statesHost("lb1"));
        states2 = ServerStates.load("lb2", dir.resolve("lb2"), statesHost("lb2"));
        states1.follow(lb1, history1::sequencer);
        states2.follow(lb2, history2::sequencer);
        lb1.startDelivering();
        lb2.startDelivering();
        closeLast.add(0, states1);
        closeLast.add(0, states2);
        await().atMost(Duration.ofSeconds(10)).until(() -> history1.members().size() == 2
                && history2.members().size() == 2 && history2.state() == ConfigHistory.State.IN_SYNC);
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable closeable : closeLast) {
            closeable.close();
        }
    }

    @Test
    void aRevisionSentByAMemberThatDoesNotNumberRevisionsIsIgnored() throws Exception {
        BatonConfig forged = config(66);

        lb2.broadcast(new ClusterMessage.Config(2, ConfigWriter.checksum(forged), "forged", ConfigWriter.toJson(forged)));
        // an apply through the sequencer afterwards: when it is stored everywhere, the forged one was handled
        ConfigHistory.Outcome real = history2.apply(config(2), "test");

        assertThat(real.revision()).isEqualTo(2);
        assertThat(store1.current().map(StoredConfig::checksum)).hasValue(ConfigWriter.checksum(config(2)));
        assertThat(ran).doesNotContain(66L);
    }

    @Test
    void aReplayedOldRevisionFromTheSequencerChangesNothing() throws Exception {
        ConfigHistory.Outcome second = history1.apply(config(2), "test");
        BatonConfig old = config(1);

        lb1.broadcast(new ClusterMessage.Config(1, ConfigWriter.checksum(old), "replayed", ConfigWriter.toJson(old)));
        lb1.broadcast(new ClusterMessage.Config(2, ConfigWriter.checksum(old), "replayed", ConfigWriter.toJson(old)));
        ConfigHistory.Outcome third = history1.apply(config(3), "test");

        assertThat(second.stored()).containsExactlyInAnyOrder("lb1", "lb2");
        assertThat(third.stored()).containsExactlyInAnyOrder("lb1", "lb2");
        assertThat(store2.revisions()).extracting(info -> info.revision() + " " + info.checksum())
                .containsExactly("1 " + ConfigWriter.checksum(config(1)), "2 " + second.checksum(),
                        "3 " + third.checksum());
    }

    @Test
    void aRevisionThatDoesNotMatchItsChecksumIsRefusedAndShownBehind() throws Exception {
        BatonConfig config = config(9);

        lb1.broadcast(new ClusterMessage.Config(5, "sha256:0000", "damaged", ConfigWriter.toJson(config)));

        await().atMost(Duration.ofSeconds(5)).until(() -> history2.members().get("lb2").failedRevision() == 5);
        assertThat(history2.reason()).contains("does not match its checksum");
        assertThat(store2.highestRevision()).isEqualTo(1);
        lb1.broadcast(new ClusterMessage.Config(6, "sha256:00", "damaged", "{not json"));
        await().atMost(Duration.ofSeconds(5)).until(() -> history2.members().get("lb2").failedRevision() == 6);
        assertThat(history2.reason()).contains("is not a valid config");
        assertThat(store2.highestRevision()).isEqualTo(1);
    }

    @Test
    void aProposalSentToAMemberThatDoesNotNumberRevisionsIsAnsweredWithWhoDoes() throws Exception {
        List<ClusterMessage.Answer> answers = new CopyOnWriteArrayList<>();
        lb1.subscribe((from, message) -> {
            if (message instanceof ClusterMessage.Answer answer) {
                answers.add(answer);
            }
        });

        lb1.sendTo("lb2", new ClusterMessage.Propose(999, 0, ConfigWriter.toJson(config(4)), "sent to the wrong node"));

        await().atMost(Duration.ofSeconds(5)).until(() -> !answers.isEmpty());
        assertThat(answers.get(0).outcome()).isEqualTo(ClusterMessage.Answer.NOT_SEQUENCER);
        assertThat(answers.get(0).message()).isEqualTo("lb1");
        assertThat(store2.highestRevision()).isEqualTo(1);
    }

    @Test
    void serverStatesSentByAMemberThatDoesNotNumberThemAreIgnored() throws Exception {
        lb2.broadcast(new ClusterMessage.ServerStates(99, List.of(new ClusterMessage.StateEntry("web", "rs1", "halt",
                "2026-12-01T00:00:00Z", "forged"))));
        long version = states2.set("web", "rs1", io.baton.config.ServerState.DRAIN, "test");

        assertThat(version).isEqualTo(1);
        await().atMost(Duration.ofSeconds(5)).until(() -> states1.version() == 1 && states2.version() == 1);
        assertThat(states1.states().get("web/rs1").state()).isEqualTo(io.baton.config.ServerState.DRAIN);
        assertThat(statesRun).noneMatch(run -> run.contains("halt"));
    }

    @Test
    void aStateChangeForAnUnknownServerOrStateIsRefusedAndChangesNothing() throws Exception {
        List<ClusterMessage.Answer> answers = new CopyOnWriteArrayList<>();
        lb2.subscribe((from, message) -> {
            if (message instanceof ClusterMessage.Answer answer) {
                answers.add(answer);
            }
        });

        lb2.sendTo("lb1", new ClusterMessage.StateChange((1L << 60) + 7, "web", "nobody", "drain", "hostile"));
        lb2.sendTo("lb1", new ClusterMessage.StateChange((1L << 60) + 8, "web", "rs1", "sleepy", "hostile"));

        await().atMost(Duration.ofSeconds(5)).until(() -> answers.size() == 2);
        assertThat(answers).allMatch(answer -> answer.outcome() == ClusterMessage.Answer.INVALID);
        assertThat(answers).extracting(ClusterMessage.Answer::message)
                .anyMatch(message -> message.contains("no server \"nobody\""))
                .anyMatch(message -> message.contains("unknown state \"sleepy\""));
        assertThat(states1.version()).isZero();
        assertThat(states1.states()).isEmpty();
    }

    private ServerStates.Host statesHost(String node) {
        return new ServerStates.Host() {
            @Override
            public String unknown(String service, String server) {
                return service.equals("web") && server.equals("rs1") ? null
                        : "service \"" + service + "\" has no server \"" + server + "\"";
            }

            @Override
            public void run(java.util.Map<String, ServerStates.Entry> states) {
                states.values().forEach(entry -> statesRun.add(node + " " + entry.key() + " "
                        + entry.state().configName()));
            }
        };
    }

    private ConfigHistory.Host host() {
        return new ConfigHistory.Host() {
            @Override
            public List<ConfigError> check(BatonConfig config) {
                return List.of();
            }

            @Override
            public List<String> run(StoredConfig revision) {
                ran.add((long) revision.config().services().get(0).servers().get(0).weight());
                return List.of();
            }

            @Override
            public void stateChanged() {
            }
        };
    }

    private BatonConfig config(int weight) throws Exception {
        return ConfigParser.parse(template.replace("WEIGHT", String.valueOf(weight)), ConfigParser.Format.YAML);
    }

    private static int freePort() throws Exception {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
