package io.baton.appliance;

import io.baton.cluster.wire.ClusterKeys;
import io.baton.host.TestNetwork;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * An active/passive pair in network namespaces on one bridge, with a client and a real server:
 * the real jar in every namespace, the VIP on real interfaces, gratuitous ARP on a real LAN.
 * Needs root (CI runs as root).
 */
class FailoverIT {

    @TempDir
    Path work;

    private final TestNetwork network = new TestNetwork();
    private final List<BatonProcess> processes = new ArrayList<>();
    private String lb1;
    private String lb2;
    private String client;
    private String server;
    private String vip;
    private String lan;

    @BeforeEach
    void buildNetwork() throws Exception {
        lan = network.lan();
        lb1 = network.namespace("a");
        lb2 = network.namespace("b");
        client = network.namespace("c");
        server = network.namespace("r");
        String[] hosts = {lb1, lb2, client, server};
        String[] addresses = {"11", "12", "2", "21"};
        for (int i = 0; i < hosts.length; i++) {
            network.plug(hosts[i], lan, i);
            network.address(hosts[i], "eth0", network.subnet + addresses[i] + "/24");
        }
        vip = network.subnet + "100";
        processes.add(BatonProcess.launch(List.of("ip", "netns", "exec", server, "java", "-Xmx64m", "-cp",
                BatonProcess.jar().toString(), "io.baton.appliance.demo.DemoBackend", "rs1", network.subnet + "21",
                "8080"), work));

        Path key = work.resolve("cluster.key");
        ClusterKeys.generate(key);
        Files.writeString(work.resolve("baton.yaml"), """
                cluster:
                  name: ha-%s
                  key-file: %s
                  witness: %s2
                  nodes:
                    - { id: lb1, address: %s11:7800, admin: 127.0.0.1:9090, priority: 200 }
                    - { id: lb2, address: %s12:7800, admin: 127.0.0.1:9090, priority: 100 }
                vips: [{ name: front, address: %s/24, interface: eth0 }]
                services:
                  - name: web
                    vip: front
                    ports: [80]
                    mode: l7-snat
                    l7: http
                    check: { type: http, path: /, interval: 500ms, timeout: 300ms }
                    servers: [{ name: rs1, address: %s21:8080 }]
                """.formatted(network.id, key, network.subnet, network.subnet, network.subnet, vip, network.subnet));
    }

    @AfterEach
    void tearDown(org.junit.jupiter.api.TestInfo test) throws Exception {
        processes.forEach(BatonProcess::close);
        network.close();
        BatonProcess.saveOutputs(processes, "failover-it", test.getTestMethod().orElseThrow().getName());
    }

    @Test
    void killingTheActiveMovesTheVipToThePeerWithNoMomentOfTwoHolders() throws Exception {
        BatonProcess first = activePassivePair();

        int bothHeld = whileSampling(() -> {
            first.kill();
            awaitTakeover("kill -9");
        });

        assertTakeover(bothHeld, "lb1 left the cluster");
    }

    @Test
    void losingTheActiveHostsLinkMovesTheVipAndTheCutOffNodeGivesItUp() throws Exception {
        activePassivePair();

        int bothHeld = whileSampling(() -> {
            TestNetwork.run("ip", "-n", lb1, "link", "set", "eth0", "down");
            awaitTakeover("link down");
        });

        assertTakeover(bothHeld, "lb1 left the cluster");
        assertThat(status(lb1)).contains("FAULT: link down on eth0");
    }

    @Test
    void batonFailoverHandsTheRoleOverWithNoMomentOfTwoHoldersAndNoLostConnection() throws Exception {
        activePassivePair();
        AtomicReference<String> heldAnswer = new AtomicReference<>();
        int bothHeld;
        try (NamespaceNodes.ClientLoop clients = clientsWhileServed()) {
            bothHeld = whileSampling(() -> {
                try (NamespaceNodes.HeldConnection held = NamespaceNodes.heldConnection(client, vip)) {
                    String said = TestNetwork.run("ip", "netns", "exec", lb1, "java", "-jar",
                            BatonProcess.jar().toString(), "failover");
                    assertThat(said).contains("active role handed from lb1 to lb2");
                    awaitTakeover("baton failover");
                    heldAnswer.set(held.request());
                }
            });
            assertEveryAttemptServed(clients);
        }

        assertThat(heldAnswer.get()).as("a request on a connection opened to lb1 before the handover, sent after it")
                .startsWith("HTTP/1.1 200").contains("hello from rs1");
        assertThat(holds(lb2)).isTrue();
        assertThat(bothHeld).as("samples in which both nodes held the VIP").isZero();
        await().atMost(Duration.ofSeconds(5)).until(() -> status(lb1).contains("\"role\" : \"PASSIVE\""));
        assertThat(status(lb2)).contains("\"from\" : \"lb1\"").contains("\"to\" : \"lb2\"");
    }

    @Test
    void aCutBetweenTheNodesWithTheClientStillConnectedLeavesExactlyOneHolder() throws Exception {
        activePassivePair();

        int bothHeld = whileSampling(() -> {
            cut(lb1, network.subnet + "12");
            cut(lb2, network.subnet + "11");
            await().atMost(Duration.ofSeconds(10)).until(() -> status(lb2).contains("\"role\" : \"LOST\""));
            // both sides now decide alone: the active keeps the VIP (it still reaches the witness), the
            // peer sees the VIP still answering and does not claim it, all the while
            await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5)).until(() -> holds(lb1) && !holds(lb2));
            assertThat(status(lb2)).contains("still answers from");

            heal(lb1);
            heal(lb2);
            await().atMost(Duration.ofSeconds(15)).until(() -> !status(lb1).contains("\"role\" : \"LOST\"")
                    && !status(lb2).contains("\"role\" : \"LOST\""));
        });

        assertThat(bothHeld).as("samples in which both nodes held the VIP").isZero();
        assertThat(holds(lb1) ^ holds(lb2)).as("exactly one holder after the merge").isTrue();
        await().atMost(Duration.ofSeconds(5)).until(() -> answers());
    }

    /**
     * The one-truth partition case: each side of a cut cluster link applies its own config; after the
     * heal neither apply is lost or silently overwritten. The node that stays active keeps its
     * history, the other is shown as diverged on both nodes (and is not eligible), and the documented
     * command resolves it.
     */
    @Test
    void appliesOnBothSidesOfACutAreShownAsADivergenceAfterTheHealAndTheDocumentedCommandResolvesIt()
            throws Exception {
        activePassivePair();
        String base = Files.readString(work.resolve("baton.yaml"));
        cut(lb1, network.subnet + "12");
        cut(lb2, network.subnet + "11");
        await().atMost(Duration.ofSeconds(10)).until(() -> status(lb2).contains("\"role\" : \"LOST\"")
                && status(lb1).contains("\"role\" : \"LOST\""));

        put(lb1, base.replace("interval: 500ms", "interval: 400ms"));
        put(lb2, base.replace("interval: 500ms", "interval: 300ms"));
        assertThat(revision(lb1)).isEqualTo(2);
        assertThat(revision(lb2)).isEqualTo(2);
        heal(lb1);
        heal(lb2);

        await().atMost(Duration.ofSeconds(20)).until(() -> status(lb1).contains("DIVERGED: the config history of lb2")
                && status(lb2).contains("DIVERGED: the config history of lb2"));
        assertThat(status(lb2)).contains("baton config resolve --take-cluster")
                .contains("baton config resolve --push-local");
        assertThat(config(lb1)).as("the active node keeps its own apply").contains("\"interval\" : \"400ms\"");
        assertThat(config(lb2)).as("the diverged node keeps running its own").contains("\"interval\" : \"300ms\"");
        assertThat(holds(lb1)).isTrue();
        assertThat(holds(lb2)).isFalse();

        String resolved = TestNetwork.run("ip", "netns", "exec", lb2, "java", "-jar", BatonProcess.jar().toString(),
                "config", "resolve", "--push-local");

        assertThat(resolved).contains("stored by: ");
        await().atMost(Duration.ofSeconds(10)).until(() -> revision(lb1) == 3 && revision(lb2) == 3
                && !status(lb1).contains("DIVERGED") && !status(lb2).contains("DIVERGED"));
        assertThat(config(lb1)).contains("\"interval\" : \"300ms\"");
        assertThat(Files.readString(work.resolve("lb1").resolve("history.log")))
                .as("lb1's own apply stays in its record").contains("\"revision\":2,");
        assertThat(holds(lb1)).as("the active role never moved").isTrue();
        assertThat(status(lb1)).doesNotContain("\"to\" : \"lb2\"");
    }

    /** Source-ip clients pinned before a kill -9 of the active node reach the same real servers after it. */
    @Test
    void clientsPinnedBeforeAKillOfTheActiveReachTheSameServersAfterIt() throws Exception {
        processes.add(BatonProcess.launch(List.of("ip", "netns", "exec", server, "java", "-Xmx64m", "-cp",
                BatonProcess.jar().toString(), "io.baton.appliance.demo.DemoBackend", "rs2", network.subnet + "21",
                "8081"), work));
        Path config = work.resolve("baton.yaml");
        Files.writeString(config, Files.readString(config)
                .replace("    servers: [{ name: rs1, address: " + network.subnet + "21:8080 }]",
                        "    scheduler: rr\n    persistence: { type: source-ip, timeout: 30m }\n"
                                + "    servers: [{ name: rs1, address: " + network.subnet + "21:8080 }, { name: rs2,"
                                + " address: " + network.subnet + "21:8081 }]"));
        assertThat(Files.readString(config)).contains("rs2");
        BatonProcess first = activePassivePair();
        List<String> clients = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            clients.add(network.subnet + (50 + i));
            TestNetwork.run("ip", "-n", client, "addr", "add", clients.get(i) + "/24", "dev", "eth0");
        }
        java.util.Map<String, String> pinned = new java.util.HashMap<>();
        for (String from : clients) {
            pinned.put(from, from(from));
        }
        assertThat(pinned.values()).as("round robin spread the clients").contains("hello from rs1", "hello from rs2");
        // the twelve, and the client's own address that the readiness probes used
        await().atMost(Duration.ofSeconds(5)).until(() -> metrics(lb2).contains("baton_persistence_entries 13.0"));

        first.kill();
        awaitTakeover("kill -9");

        for (String from : clients) {
            assertThat(from(from)).as("client %s after the kill -9 of lb1", from).isEqualTo(pinned.get(from));
        }
    }

    /**
     * A host that is no Baton node answers ARP for the VIP (a misconfigured real server, a typo on
     * another machine): a kill -9 of the active node still moves the VIP, after a bounded wait, and
     * the conflict is shown in status.
     */
    @Test
    void aForeignHostAnsweringArpForTheVipDoesNotBlockATakeoverAndIsShownAsAConflict() throws Exception {
        BatonProcess first = activePassivePair();
        String foreign = network.namespace("f");
        network.plug(foreign, lan, 4);
        network.address(foreign, "eth0", network.subnet + "31/24");
        network.address(foreign, "eth0", vip + "/32");
        String foreignMac = network.mac(foreign, "eth0");

        long killed = System.nanoTime();
        first.kill();
        await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20)).until(() -> holds(lb2));
        System.out.println("kill -9 of the active with a foreign host answering ARP for the VIP: lb2 holds it after "
                + (System.nanoTime() - killed) / 1_000_000 + " ms");

        assertThat(status(lb2)).contains("address conflict: VIP " + vip).contains(foreignMac);
    }

    /** The body of one request through the VIP from the client's address {@code from}. */
    private String from(String from) throws Exception {
        return TestNetwork.run("ip", "netns", "exec", client, "curl", "-s", "-m", "2", "--interface", from,
                "http://" + vip + "/").trim();
    }

    private String metrics(String namespace) {
        return NamespaceNodes.admin(namespace, "/metrics");
    }

    private String config(String namespace) {
        return NamespaceNodes.admin(namespace, "/api/v1/config");
    }

    /** Drops all IP traffic between this namespace and {@code peer} (ARP still passes). */
    private static void cut(String namespace, String peer) throws Exception {
        NamespaceNodes.cut(namespace, peer);
    }

    private static void heal(String namespace) throws Exception {
        NamespaceNodes.heal(namespace);
    }

    @Test
    void aGracefulStopHandsTheVipOverWithNoMomentOfTwoHoldersAndNoLostConnection() throws Exception {
        BatonProcess first = activePassivePair();
        AtomicReference<String> heldAnswer = new AtomicReference<>();
        int bothHeld;
        try (NamespaceNodes.ClientLoop clients = clientsWhileServed()) {
            bothHeld = whileSampling(() -> {
                try (NamespaceNodes.HeldConnection held = NamespaceNodes.heldConnection(client, vip)) {
                    first.terminate();
                    awaitTakeover("SIGTERM");
                    heldAnswer.set(held.request());
                }
                assertThat(first.waitForExit()).isZero();
            });
            assertEveryAttemptServed(clients);
        }

        assertThat(heldAnswer.get()).as("a request on a connection opened to lb1 before it stopped, sent after the"
                + " handover").startsWith("HTTP/1.1 200").contains("hello from rs1");
        assertTakeover(bothHeld, "lb1 is stopping");
        assertThat(first.output()).contains("hands the VIPs over").contains("lb2 holds the VIPs now");
    }

    /** A client opening connections to the VIP, once it is served. */
    private NamespaceNodes.ClientLoop clientsWhileServed() throws Exception {
        await().atMost(Duration.ofSeconds(10)).until(this::answers);
        return NamespaceNodes.clientLoop(client, vip, work);
    }

    /** A planned handover is made before it breaks: not one attempt of the client fails. */
    private static void assertEveryAttemptServed(NamespaceNodes.ClientLoop clients) throws Exception {
        int before = clients.attempts(); // and a few attempts after the takeover too
        await().atMost(Duration.ofSeconds(10)).until(() -> clients.attempts() >= before + 5);
        List<String> statuses = clients.stop();
        assertThat(statuses).as("HTTP status of each client attempt during the handover").hasSizeGreaterThan(5)
                .allMatch("200"::equals);
    }

    @Test
    void configAppliedOnThePassiveReachesBothAndARejoiningNodeStaysPassiveAndCatchesUp() throws Exception {
        BatonProcess first = activePassivePair();

        put(lb2, Files.readString(work.resolve("baton.yaml")).replace("interval: 500ms", "interval: 400ms"));
        await().atMost(Duration.ofSeconds(5)).until(() -> revision(lb1) == 2 && revision(lb2) == 2);

        first.terminate();
        assertThat(first.waitForExit()).isZero();
        await().atMost(Duration.ofSeconds(10)).until(() -> holds(lb2));
        put(lb2, Files.readString(work.resolve("baton.yaml")).replace("interval: 500ms", "interval: 300ms"));
        await().atMost(Duration.ofSeconds(5)).until(() -> revision(lb2) == 3);

        BatonProcess rejoined = node(lb1, "lb1");
        try {
            await().atMost(Duration.ofSeconds(30)).until(() -> revision(lb1) == 3);
        } catch (AssertionError | RuntimeException e) {
            System.out.println("lb1 output:\n" + rejoined.output());
            throw e;
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> status(lb1).contains("\"role\" : \"PASSIVE\""));
        assertThat(holds(lb2)).as("no preemption: the returning node stays passive").isTrue();
        assertThat(holds(lb1)).isFalse();
        assertThat(TestNetwork.run("ip", "netns", "exec", lb1, "curl", "-s", "http://127.0.0.1:9090/api/v1/config"))
                .contains("\"interval\" : \"300ms\"");
    }

    /**
     * The default timings under the benchmark's load (wrk -t1 -c64, as bench/l7.sh) through the VIP
     * to two nginx backends, for 5 minutes ({@code -Dbaton.soak.seconds} shortens it on a
     * workstation), with both nodes, the load and the backends on this machine's cores and the nodes
     * on the production JVM options: the active node never changes.
     */
    @Test
    void fullLoadThroughTheVipForFiveMinutesNeverMovesTheActiveRole() throws Exception {
        long seconds = Long.getLong("baton.soak.seconds", 300);
        for (int n = 1; n <= 2; n++) {
            Path prefix = Files.createDirectories(work.resolve("nginx" + n));
            Files.writeString(prefix.resolve("nginx.conf"), """
                    worker_processes 1;
                    daemon off;
                    error_log %s/error.log warn;
                    pid %s/nginx.pid;
                    events { worker_connections 4096; }
                    http {
                        access_log off;
                        keepalive_requests 1000000;
                        server {
                            listen %s21:%d;
                            location / { return 200 "hello from rs%d\n"; }
                        }
                    }
                    """.formatted(prefix, prefix, network.subnet, 8080 + n, n));
            processes.add(BatonProcess.launch(List.of("ip", "netns", "exec", server, "nginx", "-p", prefix.toString(),
                    "-c", prefix.resolve("nginx.conf").toString()), work));
        }
        Path config = work.resolve("baton.yaml");
        Files.writeString(config, Files.readString(config).replace(
                "servers: [{ name: rs1, address: %s21:8080 }]".formatted(network.subnet),
                "servers: [{ name: rs1, address: %s21:8081 }, { name: rs2, address: %s21:8082 }]"
                        .formatted(network.subnet, network.subnet)));
        BatonProcess first = activePassivePair();
        BatonProcess second = processes.get(processes.size() - 1);

        BatonProcess load = BatonProcess.launch(List.of("ip", "netns", "exec", client, "wrk", "-t1", "-c64",
                "-d" + seconds + "s", "--latency", "http://" + vip + "/"), work);
        processes.add(load);
        int samples = 0;
        while (!load.exitsWithin(Duration.ofSeconds(1))) {
            assertThat(holds(lb1)).as("lb1 holds the VIP after %d s of load", samples).isTrue();
            assertThat(holds(lb2)).as("lb2 holds the VIP after %d s of load", samples).isFalse();
            samples++;
            assertThat(samples).as("wrk still running long after its %d s", seconds).isLessThan((int) seconds + 60);
        }

        String wrk = load.output();
        System.out.println("wrk through the VIP:\n" + wrk);
        assertThat(load.waitForExit()).isZero();
        java.util.regex.Matcher requests = java.util.regex.Pattern.compile("(\\d+) requests in").matcher(wrk);
        assertThat(requests.find()).as("wrk's summary").isTrue();
        assertThat(Long.parseLong(requests.group(1))).as("requests answered").isGreaterThan(seconds * 1000);
        assertThat(wrk).doesNotContain("Non-2xx");
        // the active role never moved: the first election is no failover
        for (String namespace : List.of(lb1, lb2)) {
            assertThat(status(namespace)).contains("\"lastFailover\" : null");
        }
        assertThat(holds(lb1)).isTrue();
        assertThat(status(lb1)).contains("\"warnings\" : [ ]");
        for (BatonProcess process : List.of(first, second)) {
            assertThat(process.output()).doesNotContain("left the cluster").doesNotContain("gives up the active role");
        }
    }

    private void put(String namespace, String yaml) throws Exception {
        Path file = Files.writeString(work.resolve("apply-" + System.nanoTime() + ".yaml"), yaml);
        String answer = TestNetwork.run("ip", "netns", "exec", namespace, "curl", "-s", "-X", "PUT", "-H",
                "Content-Type: application/yaml", "--data-binary", "@" + file, "http://127.0.0.1:9090/api/v1/config");
        assertThat(answer).contains("\"changed\" : true");
    }

    private long revision(String namespace) {
        String status = status(namespace);
        java.util.regex.Matcher matcher = java.util.regex.Pattern.compile("\"config\" : \\{\\s*\"revision\" : (\\d+)")
                .matcher(status);
        return matcher.find() ? Long.parseLong(matcher.group(1)) : -1;
    }

    /** lb1 active and answering through the VIP, lb2 passive. */
    private BatonProcess activePassivePair() throws Exception {
        BatonProcess first = node(lb1, "lb1");
        await().atMost(Duration.ofSeconds(30)).until(() -> holds(lb1));
        node(lb2, "lb2");
        await().atMost(Duration.ofSeconds(30)).until(() -> status(lb2).contains("\"role\" : \"PASSIVE\""));
        await().atMost(Duration.ofSeconds(10)).until(() -> answers());
        assertThat(holds(lb2)).isFalse();
        return first;
    }

    private void awaitTakeover(String failure) {
        long start = System.nanoTime();
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20)).until(() -> answers());
        System.out.println(failure + " of the active: first answer through the VIP after "
                + (System.nanoTime() - start) / 1_000_000 + " ms");
        await().atMost(Duration.ofSeconds(5)).until(() -> !holds(lb1));
    }

    private void assertTakeover(int bothHeld, String reason) throws Exception {
        assertThat(holds(lb2)).isTrue();
        assertThat(bothHeld).as("samples in which both nodes held the VIP").isZero();
        String lb2Mac = network.mac(lb2, "eth0");
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(TestNetwork.run("ip", "-n", client, "neigh", "show", vip)).contains("lladdr " + lb2Mac));
        assertThat(status(lb2)).contains("\"from\" : \"lb1\"").contains("\"to\" : \"lb2\"")
                .contains(reason);
    }

    /** Runs {@code failure} while sampling both nodes' addresses; returns the samples with two holders. */
    private int whileSampling(ThrowingRunnable failure) throws Exception {
        AtomicBoolean sampling = new AtomicBoolean(true);
        AtomicInteger bothHeld = new AtomicInteger();
        Thread sampler = new Thread(() -> {
            while (sampling.get()) {
                // each look takes a few ms: lb1 is looked at again after lb2, so that a handover that
                // completes between two looks (lb1 releases, lb2 claims) is not taken for an overlap
                if (holds(lb1) && holds(lb2) && holds(lb1)) {
                    bothHeld.incrementAndGet();
                }
            }
        });
        sampler.start();
        try {
            failure.run();
        } finally {
            sampling.set(false);
            sampler.join();
        }
        return bothHeld.get();
    }

    /** A step that may throw. */
    private interface ThrowingRunnable {
        void run() throws Exception;
    }

    private BatonProcess node(String namespace, String id) throws Exception {
        BatonProcess node = NamespaceNodes.start(namespace, id, work);
        processes.add(node);
        return node;
    }

    private boolean holds(String namespace) {
        return NamespaceNodes.holds(namespace, vip);
    }

    private boolean answers() {
        return NamespaceNodes.answers(client, vip);
    }

    private String status(String namespace) {
        return NamespaceNodes.status(namespace);
    }
}
