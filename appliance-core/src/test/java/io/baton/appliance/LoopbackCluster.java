package io.baton.appliance;

import io.baton.cluster.wire.ClusterKeys;
import io.baton.config.BatonConfig;
import io.baton.config.ConfigParser;
import io.baton.config.HostPort;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.awaitility.Awaitility.await;

/**
 * Two or more appliance nodes in this JVM on loopback (n1 has the highest priority and starts
 * first, so it is active), with one l7 service whose first real server's weight tells configs
 * apart: {@link #config(int)} is the same cluster with that weight.
 */
final class LoopbackCluster implements AutoCloseable {

    private final Path work;
    private final String template;
    private final ApplianceNode[] nodes;
    private final TestBackend backend;
    /** The admin APIs' token file; null: loopback without tokens. */
    private final Path tokens;

    private LoopbackCluster(Path work, String template, int size, TestBackend backend, Path tokens) {
        this.work = work;
        this.template = template;
        this.nodes = new ApplianceNode[size];
        this.backend = backend;
        this.tokens = tokens;
    }

    static LoopbackCluster start(Path work, int size) throws Exception {
        return start(work, size, null);
    }

    /** Like {@link #start(Path, int)}, every node's admin API admitting only the holders of {@code tokens}. */
    static LoopbackCluster start(Path work, int size, Path tokens) throws Exception {
        TestBackend backend = new TestBackend("rs1");
        Path key = work.resolve("cluster.key");
        ClusterKeys.generate(key);
        int port = TestHttp.freePort();
        List<String> lines = new ArrayList<>();
        for (int i = 1; i <= size; i++) {
            lines.add("    - { id: n" + i + ", address: 127.0.0.1:" + TestHttp.freePort() + ", priority: " + (250 - i * 10)
                    + " }");
        }
        String nodes = String.join("\n", lines);
        String template = """
                cluster:
                  name: history-%d
                  key-file: %s
                  nodes:
                %s
                vips: [{ name: front, address: 127.0.0.103/32, interface: lo }]
                services:
                  - name: web
                    vip: front
                    ports: [%d]
                    mode: l7-snat
                    l7: http
                    servers:
                      - { name: rs1, address: 127.0.0.1:%d, weight: WEIGHT }
                """.formatted(port, key, nodes, port, backend.port());
        LoopbackCluster cluster = new LoopbackCluster(work, template, size, backend, tokens);
        Path file = cluster.file(1);
        // one after the other: a pair's first node holds the VIPs alone, one node of three waits for a second
        for (int i = 0; i < size; i++) {
            cluster.nodes[i] = cluster.startNode(i + 1, file);
        }
        ApplianceNode first = cluster.nodes[0];
        await().atMost(Duration.ofSeconds(15)).until(() -> "n1".equals(first.status().vips().get(0).holder()));
        cluster.awaitSettled();
        return cluster;
    }

    /** The cluster's config with rs1 at {@code weight}. */
    BatonConfig config(int weight) throws Exception {
        return ConfigParser.parse(template.replace("WEIGHT", String.valueOf(weight)), ConfigParser.Format.YAML);
    }

    /** The same, as a YAML file. */
    Path file(int weight) throws Exception {
        return Files.writeString(work.resolve("weight-" + weight + ".yaml"),
                template.replace("WEIGHT", String.valueOf(weight)));
    }

    /** Node n{@code number} (from 1). */
    ApplianceNode node(int number) {
        return nodes[number - 1];
    }

    List<ApplianceNode> nodes() {
        List<ApplianceNode> running = new ArrayList<>();
        for (ApplianceNode node : nodes) {
            if (node != null) {
                running.add(node);
            }
        }
        return running;
    }

    Path stateDir(int number) {
        return work.resolve("n" + number);
    }

    /** Stops node n{@code number}, and waits until the others have seen it leave (LEFT; or LOST, if its goodbye was lost). */
    void stop(int number) {
        nodes[number - 1].close();
        nodes[number - 1] = null;
        String id = "n" + number;
        await().atMost(Duration.ofSeconds(10)).until(() -> nodes().stream().allMatch(node -> node.status().nodes()
                .stream().filter(member -> member.id().equals(id))
                .allMatch(member -> member.role().equals("LEFT") || member.role().equals("LOST"))));
    }

    ApplianceNode restart(int number) throws Exception {
        nodes[number - 1] = startNode(number, file(1));
        return nodes[number - 1];
    }

    /** Every configured node is in the view, and each is active or passive. */
    void awaitSettled() {
        await().atMost(Duration.ofSeconds(20)).until(() -> nodes().stream().allMatch(node -> node.status().nodes()
                .stream().allMatch(member -> member.role().equals("ACTIVE") || member.role().equals("PASSIVE"))));
    }

    private ApplianceNode startNode(int number, Path file) throws Exception {
        return ApplianceNode.start(tokens == null
                ? new NodeOptions(file, "n" + number, stateDir(number), new HostPort("127.0.0.1", 0))
                : new NodeOptions(file, "n" + number, stateDir(number), new HostPort("127.0.0.1", 0), tokens, List.of()));
    }

    @Override
    public void close() {
        for (int i = nodes.length - 1; i >= 0; i--) {
            if (nodes[i] != null) {
                nodes[i].close();
            }
        }
        backend.close();
    }
}
