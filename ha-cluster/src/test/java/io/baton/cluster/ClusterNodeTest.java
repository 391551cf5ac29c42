package io.baton.cluster;

import io.baton.cluster.wire.ClusterKeys;
import io.baton.cluster.wire.ClusterMessage;
import io.baton.config.ClusterConfig;
import io.baton.config.HostPort;
import io.baton.config.NodeConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** Real JGroups channels on loopback, over mutual TLS from a real key file. */
class ClusterNodeTest {

    @TempDir
    Path dir;

    private final List<ClusterNode> nodes = new ArrayList<>();
    private final Map<String, Decision> decisions = new ConcurrentHashMap<>();

    @AfterEach
    void leave() {
        nodes.forEach(ClusterNode::close);
    }

    @Test
    void thePairElectsTheHigherPriorityAndThePeerTakesOverWhenItLeaves() throws Exception {
        ClusterConfig cluster = cluster(freePort(), freePort());
        Path key = key("k1");

        ClusterNode lb1 = join(cluster, "lb1", 200, key);
        ClusterNode lb2 = join(cluster, "lb2", 100, key);

        await().atMost(Duration.ofSeconds(10)).until(() -> lb1.members().size() == 2 && lb2.members().size() == 2);
        await().atMost(Duration.ofSeconds(5)).until(() -> "lb1".equals(active("lb1")) && "lb1".equals(active("lb2")));
        lb1.update(new MemberInfo("lb1", 200, 1, true, true)); // it claimed the VIPs
        await().atMost(Duration.ofSeconds(5)).until(() -> lb2.infos().get("lb1").holding());

        lb1.close();
        nodes.remove(lb1);

        await().atMost(Duration.ofSeconds(5)).until(() -> "lb2".equals(active("lb2")));
        assertThat(lb2.decision().reason()).isEqualTo("lb1 left the cluster");
        assertThat(lb2.lastFailover()).hasValueSatisfying(failover -> {
            assertThat(failover.from()).isEqualTo("lb1");
            assertThat(failover.to()).isEqualTo("lb2");
        });
    }

    @Test
    void whatArrivesBeforeTheSubscribersStartIsHeldForThemInOrder() throws Exception {
        ClusterConfig cluster = cluster(freePort(), freePort());
        Path key = key("k1");
        ClusterNode lb1 = join(cluster, "lb1", 200, key);
        lb1.startDelivering();
        ClusterNode lb2 = join(cluster, "lb2", 100, key);
        await().atMost(Duration.ofSeconds(10)).until(() -> lb1.members().size() == 2 && lb2.members().size() == 2);

        // sent once, at the join, as the active node's health verdicts are: before lb2's parts have subscribed
        lb1.broadcast(verdict("first"));
        lb1.broadcast(verdict("second"));
        await().atMost(Duration.ofSeconds(5)).until(() -> lb2.heldForSubscribers() >= 2);

        List<String> told = new java.util.concurrent.CopyOnWriteArrayList<>();
        lb2.subscribe((from, message) -> told.add(from + " " + message));
        assertThat(told).as("nothing before the node starts delivering").isEmpty();
        lb2.startDelivering();

        await().atMost(Duration.ofSeconds(5)).until(() -> told.size() == 2);
        assertThat(told.get(0)).startsWith("lb1 ").contains("first");
        assertThat(told.get(1)).contains("second");
        assertThat(lb2.heldForSubscribers()).isZero();
        lb1.broadcast(verdict("third"));
        await().atMost(Duration.ofSeconds(5)).until(() -> told.size() == 3);
    }

    /** Also: lb2, active alone at first without ever holding the VIPs, giving way is no failover. */
    @Test
    void nodesStartedTogetherElectByPriorityNotByWhichFormedTheViewFirst() throws Exception {
        ClusterConfig cluster = cluster(freePort(), freePort());
        Path key = key("k1");

        ClusterNode lb2 = join(cluster, "lb2", 100, key);
        await().atMost(Duration.ofSeconds(5)).until(() -> "lb2".equals(active("lb2")));
        ClusterNode lb1 = join(cluster, "lb1", 200, key);

        await().atMost(Duration.ofSeconds(5)).until(() -> "lb1".equals(active("lb1")) && "lb1".equals(active("lb2")));
        assertThat(lb1.members()).hasSize(2);
        assertThat(lb2.decision().reason()).contains("outranks");
        assertThat(lb2.lastFailover()).as("lb2 was active alone and never held the VIPs").isEmpty();
        assertThat(lb1.lastFailover()).isEmpty();
    }

    @Test
    void aNodeWithAnotherKeyCannotJoinAndDoesNotFormASecondCluster() throws Exception {
        ClusterConfig cluster = cluster(freePort(), freePort());
        ClusterNode lb1 = join(cluster, "lb1", 200, key("right"));

        assertThatThrownBy(() -> join(cluster, "lb2", 100, key("wrong")))
                .isInstanceOf(ClusterException.class)
                .hasMessageContaining("is cluster.key-file the same on every node?");
        assertThat(lb1.members()).containsExactly("lb1");
        assertThat(active("lb1")).isEqualTo("lb1");
    }

    @Test
    void aMissingOrNonBatonKeyFileIsRefusedWithAClearMessage() throws Exception {
        ClusterConfig cluster = cluster(freePort(), freePort());

        assertThatThrownBy(() -> join(cluster, "lb1", 200, dir.resolve("absent.key")))
                .isInstanceOf(ClusterException.class)
                .hasMessageContaining("absent.key does not exist")
                .hasMessageContaining("baton keygen");
        Path passphrase = Files.writeString(dir.resolve("passphrase.key"), "a passphrase of enough bytes");
        Files.setPosixFilePermissions(passphrase, PosixFilePermissions.fromString("rw-------"));
        assertThatThrownBy(() -> join(cluster, "lb1", 200, passphrase))
                .isInstanceOf(ClusterException.class)
                .hasMessageContaining("is not a Baton key file");
        assertThatThrownBy(() -> join(cluster, "lb1", 200, null))
                .isInstanceOf(ClusterException.class)
                .hasMessageContaining("cluster.key-file is not set");
    }

    @Test
    void aKeyRotationNeverSplitsThePairAndAfterItTheOldKeyIsRefused() throws Exception {
        ClusterConfig cluster = cluster(freePort(), freePort());
        Path lb1Key = key("lb1");
        Path lb2Key = dir.resolve("lb2.key");
        Path oldKey = dir.resolve("old.key");
        Files.copy(lb1Key, lb2Key, StandardCopyOption.COPY_ATTRIBUTES);
        Files.copy(lb1Key, oldKey, StandardCopyOption.COPY_ATTRIBUTES);
        ClusterNode lb1 = join(cluster, "lb1", 200, lb1Key);
        ClusterNode lb2 = join(cluster, "lb2", 100, lb2Key);
        await().atMost(Duration.ofSeconds(10)).until(() -> lb1.members().size() == 2 && lb2.members().size() == 2);

        // step 1 reached lb1: it holds both keys, and its connection to lb2 (old key only) carries on
        ClusterKeys.add(lb1Key);
        await().atMost(Duration.ofSeconds(5)).until(() -> lb1.keyIds().size() == 2);
        // lb2 restarts having got step 2's file already (the new key only): a node with both trusts it
        lb2.close();
        nodes.remove(lb2);
        // a restarted process takes seconds to come back: by then lb1 has seen it leave (rejoining on the
        // same address within milliseconds, before that, races lb1's old connection and waits for a merge)
        await().atMost(Duration.ofSeconds(5)).until(() -> lb1.members().size() == 1);
        Files.copy(lb1Key, lb2Key, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.COPY_ATTRIBUTES);
        ClusterKeys.dropOld(lb2Key);
        ClusterNode rejoined = join(cluster, "lb2", 100, lb2Key);
        await().atMost(Duration.ofSeconds(10)).until(() -> lb1.members().size() == 2 && rejoined.members().size() == 2);
        assertThat(rejoined.keyIds()).hasSize(1).isSubsetOf(lb1.keyIds());

        // step 2 reaches lb1: nothing moves
        ClusterKeys.dropOld(lb1Key);
        await().atMost(Duration.ofSeconds(5)).until(() -> lb1.keyIds().equals(rejoined.keyIds()));
        await().during(Duration.ofSeconds(1)).until(() -> lb1.members().size() == 2 && "lb1".equals(active("lb1")));

        // and a node that still has only the old key is no member any more
        rejoined.close();
        nodes.remove(rejoined);
        await().atMost(Duration.ofSeconds(5)).until(() -> lb1.members().size() == 1);
        assertThatThrownBy(() -> join(cluster, "lb2", 100, oldKey))
                .isInstanceOf(ClusterException.class)
                .hasMessageContaining("is cluster.key-file the same on every node?");
        assertThat(lb1.members()).containsExactly("lb1");
    }

    /**
     * Three nodes configured, two running, and the third's port held by a host that completes the
     * TCP handshake and then says nothing (a frozen JVM: its kernel still accepts). Every MERGE3
     * round asks the third node for members; that connect and its TLS handshake (2 s deadline)
     * once ran on JGroups' one sending thread, so lb1 and lb2 heard no heartbeat from each other
     * for that long and split, merged and split again. The pair must stay one.
     */
    @Test
    void aConfiguredNodeThatAcceptsAndNeverAnswersDoesNotSplitTheNodesThatAreUp() throws Exception {
        try (ServerSocket frozen = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            ClusterConfig cluster = new ClusterConfig("trio-" + frozen.getLocalPort(), List.of(
                    new NodeConfig("lb1", new HostPort("127.0.0.1", freePort()), NodeConfig.DEFAULT_ADMIN, 200),
                    new NodeConfig("lb2", new HostPort("127.0.0.1", freePort()), NodeConfig.DEFAULT_ADMIN, 100),
                    new NodeConfig("lb3", new HostPort("127.0.0.1", frozen.getLocalPort()),
                            NodeConfig.DEFAULT_ADMIN, 50)),
                    false, null, null);
            Path key = key("k1");
            ClusterNode lb1 = join(cluster, "lb1", 200, key);
            ClusterNode lb2 = join(cluster, "lb2", 100, key);
            await().atMost(Duration.ofSeconds(15)).until(() -> lb1.members().size() == 2 && lb2.members().size() == 2
                    && "lb1".equals(active("lb1")) && "lb1".equals(active("lb2")));
            long epoch = lb1.decision().epoch();

            // at least two MERGE3 rounds (one every 1.5-4.5 s)
            await().during(Duration.ofSeconds(9)).atMost(Duration.ofSeconds(12)).until(() ->
                    lb1.members().equals(List.of("lb1", "lb2")) && lb2.members().equals(List.of("lb1", "lb2"))
                            && lb1.decision().epoch() == epoch && lb2.decision().epoch() == epoch);
        }
    }

    @Test
    void anActiveThatHeldTheVipsGivingWayAtBootIsAFailover() throws Exception {
        ClusterConfig cluster = cluster(freePort(), freePort());
        Path key = key("k1");
        ClusterNode lb2 = join(cluster, "lb2", 100, key);
        await().atMost(Duration.ofSeconds(10)).until(() -> "lb2".equals(active("lb2")));
        lb2.update(new MemberInfo("lb2", 100, 1, true, true));

        ClusterNode lb1 = join(cluster, "lb1", 200, key);

        // while both boot the higher priority takes the role, from a node that held the VIPs: a failover
        await().atMost(Duration.ofSeconds(10)).until(() -> "lb1".equals(active("lb1")) && "lb1".equals(active("lb2")));
        assertThat(lb2.lastFailover()).hasValueSatisfying(failover -> {
            assertThat(failover.from()).isEqualTo("lb2");
            assertThat(failover.to()).isEqualTo("lb1");
        });
    }

    private ClusterNode join(ClusterConfig cluster, String id, int priority, Path key) throws ClusterException {
        ClusterNode node = ClusterNode.join(cluster, id, new MemberInfo(id, priority, 1, true), key,
                (decision, merged) -> decisions.put(id, decision));
        nodes.add(node);
        return node;
    }

    private static ClusterMessage verdict(String server) {
        return new ClusterMessage.Verdicts(List.of(new ClusterMessage.Verdict("web", server, false)));
    }

    private String active(String node) {
        Decision decision = decisions.get(node);
        return decision == null ? null : decision.active();
    }

    private Path key(String name) throws Exception {
        Path file = dir.resolve(name + ".key");
        ClusterKeys.generate(file);
        return file;
    }

    private static ClusterConfig cluster(int port1, int port2) {
        return new ClusterConfig("test-" + port1, List.of(
                new NodeConfig("lb1", new HostPort("127.0.0.1", port1), NodeConfig.DEFAULT_ADMIN, 200),
                new NodeConfig("lb2", new HostPort("127.0.0.1", port2), NodeConfig.DEFAULT_ADMIN, 100)),
                false, null, null);
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
