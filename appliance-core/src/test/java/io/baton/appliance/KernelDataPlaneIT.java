package io.baton.appliance;

import io.baton.cluster.wire.ClusterKeys;
import io.baton.host.TestNetwork;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The kernel data plane for real: a Baton node (the jar) in a network namespace programs nftables,
 * a client namespace connects to the VIP, and two real servers (nginx) answer. Needs root.
 *
 * <pre>
 *   client .2 ── LAN A (10.251.X.0/24) ── lb1 .11 (eth0, VIP .100)
 *                    └── rs1 .21, rs2 .22         (l4-dr: the real servers hold the VIP on lo)
 *   lb1 eth1 .11 ── LAN B (10.250.X.0/24) ── rs1 .21, rs2 .22   (l4-nat, l4-snat)
 * </pre>
 */
class KernelDataPlaneIT {

    private static final int REQUESTS = 200;

    @TempDir
    Path work;

    private final TestNetwork network = new TestNetwork();
    private final List<BatonProcess> processes = new ArrayList<>();
    private final List<BatonProcess> servers = new ArrayList<>();
    private final Map<BatonProcess, Path> captures = new HashMap<>();
    private String lanA;
    private String lb1;
    private String client;
    private String rs1;
    private String rs2;
    private String vip;
    /** The server side's /24 (l4-nat, l4-snat). */
    private String serverNet;

    @BeforeEach
    void buildNetwork() throws Exception {
        lanA = network.lan();
        lb1 = network.namespace("a");
        client = network.namespace("c");
        rs1 = network.namespace("r1");
        rs2 = network.namespace("r2");
        network.plug(lb1, lanA, 0);
        network.address(lb1, "eth0", network.subnet + "11/24");
        network.plug(client, lanA, 1);
        network.address(client, "eth0", network.subnet + "2/24");
        vip = network.subnet + "100";
        serverNet = "10.250." + network.subnet.split("\\.")[2] + ".";
        Path key = work.resolve("cluster.key");
        ClusterKeys.generate(key);
    }

    @AfterEach
    void tearDown(TestInfo test) throws Exception {
        servers.forEach(BatonProcess::close); // nginx workers too: close() ends a process's children
        processes.forEach(BatonProcess::close);
        network.close();
        BatonProcess.saveOutputs(processes, "kernel-it", test.getTestMethod().orElseThrow().getName());
    }

    @Test
    void directRoutingSplitsByWeightRepliesBypassTheBalancerAndAStoppedServerLeavesTheTable() throws Exception {
        directRoutingServers();
        BatonProcess.Result unprepared = checkRealServer(rs1, "--mode", "l4-dr", "--vip", vip);
        assertThat(unprepared.exitCode()).isEqualTo(1);
        assertThat(unprepared.output()).contains("ok    the VIP " + vip + "/32 is on lo")
                .contains("FAIL  eth0: arp_ignore is 0 (needs 1 or more)");
        noArpForTheVip();
        BatonProcess.Result prepared = checkRealServer(rs1, "--mode", "l4-dr", "--vip", vip);
        assertThat(prepared.exitCode()).as(prepared.output()).isZero();
        assertThat(prepared.output()).contains("all checks passed");
        startServer(rs1, "rs1", 80);
        startServer(rs2, "rs2", 80);
        node("""
                services:
                  - name: dicom
                    vip: front
                    ports: [80]
                    mode: l4-dr
                    check: { type: connect, interval: 300ms, timeout: 200ms, rise: 1, fall: 2 }
                    servers:
                      - { name: rs1, address: %1$s21, weight: 300 }
                      - { name: rs2, address: %1$s22, weight: 100 }
                """.formatted(network.subnet));
        await().atMost(Duration.ofSeconds(30)).until(() -> status().contains("2 server(s) in a table"));

        BatonProcess.Result fromBalancer = checkRealServer(lb1, "--mode", "l4-dr", "--vip", vip, "--lan", "eth0");
        assertThat(fromBalancer.exitCode()).as(fromBalancer.output()).isZero();
        assertThat(fromBalancer.output()).contains("ok    no other host on eth0 answers ARP for " + vip);

        BatonProcess capture = capture(lb1, "eth0");
        List<String> answers = requests(REQUESTS);
        stop(capture);

        long first = answers.stream().filter(answer -> answer.equals("hello from rs1")).count();
        long second = answers.stream().filter(answer -> answer.equals("hello from rs2")).count();
        assertThat(first + second).as("every request answered").isEqualTo(REQUESTS);
        assertThat((double) first / REQUESTS).as("rs1's share at weight 300 against 100").isBetween(0.6, 0.9);
        String toVip = read(capture, "dst host " + vip + " and tcp dst port 80");
        String fromVip = read(capture, "src host " + vip + " and tcp src port 80");
        assertThat(lines(toVip)).as("client packets to the VIP pass the balancer").isGreaterThan(REQUESTS);
        assertThat(lines(fromVip)).as("replies from the VIP seen on the balancer").isZero();
        assertThat(status()).containsPattern("\"packets\" : [1-9]");

        stopServer("rs2");
        await().atMost(Duration.ofSeconds(10)).until(() -> status().contains("1 server(s) in a table"));
        assertThat(requests(40)).containsOnly("hello from rs1");

        assertThat(TestNetwork.run("ip", "netns", "exec", lb1, "nft", "list", "tables")).contains("netdev baton");
        BatonProcess node = processes.get(0);
        node.terminate();
        assertThat(node.waitForExit()).isZero();
        assertThat(TestNetwork.run("ip", "netns", "exec", lb1, "nft", "list", "tables"))
                .as("a stopped node leaves no rules").doesNotContain("baton");
    }

    @Test
    void serversThatWereDownAreBackInTheTableAsSoonAsAnApplyRemovesTheirCheck() throws Exception {
        directRoutingServers();
        noArpForTheVip();
        startServer(rs1, "rs1", 80);
        startServer(rs2, "rs2", 80);
        String service = """
                services:
                  - name: dicom
                    vip: front
                    ports: [80]
                    mode: l4-dr
                    check: %2$s
                    servers:
                      - { name: rs1, address: %1$s21 }
                      - { name: rs2, address: %1$s22 }
                """;
        // the servers speak HTTP, not DICOM: the C-ECHO check finds them DOWN
        node(service.formatted(network.subnet, "{ type: dicom-echo, interval: 300ms, timeout: 200ms, rise: 1, fall: 1 }"));
        await().atMost(Duration.ofSeconds(30)).until(() -> status().contains("NO USABLE SERVER"));

        writeConfig(service.formatted(network.subnet, "{ type: none }"), false);
        String applied = TestNetwork.run("ip", "netns", "exec", lb1, "java", "-jar", BatonProcess.jar().toString(),
                "config", "apply", work.resolve("baton.yaml").toString());
        assertThat(applied).contains("revision 2");

        await().atMost(Duration.ofSeconds(5)).until(() -> status().contains("2 server(s) in a table"));
        assertThat(TestNetwork.run("ip", "netns", "exec", lb1, "nft", "list", "table", "netdev", "baton"))
                .contains(network.mac(rs1, "eth0")).contains(network.mac(rs2, "eth0"));
        assertThat(requests(20)).hasSize(20).allMatch(answer -> answer.startsWith("hello from rs"));
    }

    @Test
    void natSendsRepliesBackThroughTheBalancerAndMapsThePort() throws Exception {
        serverSide(true);
        node(serverSideService("mode: l4-nat\n    nat-gateway: gateway"));
        await().atMost(Duration.ofSeconds(30)).until(() -> status().contains("2 server(s) in a table"));
        BatonProcess.Result gatewayCheck = checkRealServer(rs1, "--mode", "l4-nat", "--vip", vip, "--gateway",
                serverNet + "1");
        assertThat(gatewayCheck.exitCode()).as(gatewayCheck.output()).isZero();

        BatonProcess capture = capture(lb1, "eth0");
        List<String> answers = requests(REQUESTS);
        stop(capture);

        assertThat(answers).hasSize(REQUESTS).containsOnly("hello from rs1", "hello from rs2");
        assertThat(answers.stream().filter(answer -> answer.equals("hello from rs1")).count())
                .as("equal weights").isBetween(60L, 140L);
        assertThat(lines(read(capture, "src host " + vip + " and tcp src port 80")))
                .as("replies leave the balancer towards the client").isGreaterThan(REQUESTS);

        stopServer("rs1");
        await().atMost(Duration.ofSeconds(10)).until(() -> status().contains("1 server(s) in a table"));
        assertThat(requests(40)).containsOnly("hello from rs2");
    }

    @Test
    void snatReachesServersThatHaveNoRouteBackFromTheFloatingSource() throws Exception {
        serverSide(false);
        node(serverSideService("mode: l4-snat\n    snat-source: source"));
        await().atMost(Duration.ofSeconds(30)).until(() -> status().contains("2 server(s) in a table"));

        BatonProcess capture = capture(lb1, "eth1");
        List<String> answers = requests(REQUESTS);
        stop(capture);

        assertThat(answers).hasSize(REQUESTS).containsOnly("hello from rs1", "hello from rs2");
        assertThat(lines(read(capture, "src host " + serverNet + "5 and tcp dst port 8080")))
                .as("connections to the servers come from the floating source").isGreaterThan(REQUESTS);
        assertThat(lines(read(capture, "src net " + network.subnet + "0/24")))
                .as("no client address reaches the server side").isZero();

        stopServer("rs2");
        await().atMost(Duration.ofSeconds(10)).until(() -> status().contains("1 server(s) in a table"));
        assertThat(requests(40)).containsOnly("hello from rs1");
    }

    @Test
    void aLongDirectRoutingTransferSurvivesKillingTheActiveNode() throws Exception {
        String lb2 = network.namespace("b");
        network.plug(lb2, lanA, 9);
        network.address(lb2, "eth0", network.subnet + "12/24");
        directRoutingServers();
        noArpForTheVip();
        startServer(rs1, "rs1", 80);
        startServer(rs2, "rs2", 80);
        writeConfig("""
                services:
                  - name: dicom
                    vip: front
                    ports: [80]
                    mode: l4-dr
                    servers:
                      - { name: rs1, address: %1$s21 }
                      - { name: rs2, address: %1$s22 }
                """.formatted(network.subnet), true);

        transferSurvivesFailover(lb2);
    }

    @Test
    void aLongNatTransferSurvivesKillingTheActiveNode() throws Exception {
        String lb2 = network.namespace("b");
        network.plug(lb2, lanA, 9);
        network.address(lb2, "eth0", network.subnet + "12/24");
        String lanB = serverSide(true);
        network.plug(lb2, lanB, 10, "eth1");
        network.address(lb2, "eth1", serverNet + "12/24");
        writeConfig("""
                services:
                  - name: web
                    vip: front
                    ports: [80]
                    mode: l4-nat
                    nat-gateway: gateway
                    servers:
                      - { name: rs1, address: %1$s21:8080 }
                      - { name: rs2, address: %1$s22:8080 }
                """.formatted(serverNet), true);

        transferSurvivesFailover(lb2);
    }

    /**
     * A 120 MB download at 20 MB/s through the VIP; lb1 is killed (-9) a second in; lb2 takes the VIPs
     * and, with the same table and seed, sends the flow's next packets to the same real server.
     */
    private void transferSurvivesFailover(String lb2) throws Exception {
        Path big = Files.createDirectories(work.resolve("nginx-rs1").resolve("big")).resolve("file");
        byte[] chunk = new byte[1 << 20];
        java.util.Random random = new java.util.Random();
        try (java.io.OutputStream out = Files.newOutputStream(big)) {
            for (int i = 0; i < 120; i++) {
                random.nextBytes(chunk);
                out.write(chunk);
            }
        }
        Files.createDirectories(work.resolve("nginx-rs2").resolve("big"));
        Files.copy(big, work.resolve("nginx-rs2").resolve("big").resolve("file"));
        BatonProcess first = start(lb1, "lb1");
        await().atMost(Duration.ofSeconds(30)).until(() -> status(lb1).contains("2 server(s) in a table"));
        start(lb2, "lb2");
        await().atMost(Duration.ofSeconds(30)).until(() -> status(lb2).contains("\"role\" : \"PASSIVE\"")
                && status(lb2).contains("passive node, no rules"));

        Path received = work.resolve("received");
        BatonProcess download = BatonProcess.launch(List.of("ip", "netns", "exec", client, "curl", "-s", "-S",
                "--limit-rate", "20M", "-o", received.toString(), "-w", "%{http_code} %{size_download}",
                "http://" + vip + "/big/file"), work);
        processes.add(download);
        await().atMost(Duration.ofSeconds(10)).until(() -> Files.exists(received) && Files.size(received) > 10_000_000);
        first.kill();
        await().atMost(Duration.ofSeconds(10)).until(() -> status(lb2).contains("\"role\" : \"ACTIVE\"")
                && status(lb2).contains("2 server(s) in a table"));
        long atTakeover = Files.size(received);

        assertThat(download.waitForExit()).as("curl: " + download.output()).isZero();
        assertThat(download.output()).startsWith("200 125829120");
        assertThat(Files.size(received)).isGreaterThan(atTakeover);
        assertThat(TestNetwork.run("sha256sum", received.toString()).split(" ")[0])
                .isEqualTo(TestNetwork.run("sha256sum", big.toString()).split(" ")[0]);
    }

    /** rs1 and rs2 on LAN A, each with the VIP on loopback: what the README asks of a DR real server. */
    private void directRoutingServers() throws Exception {
        int port = 2;
        for (String rs : List.of(rs1, rs2)) {
            network.plug(rs, lanA, port++, "eth0");
            network.address(rs, "eth0", network.subnet + (rs.equals(rs1) ? "21" : "22") + "/24");
            network.address(rs, "lo", vip + "/32");
        }
    }

    /** The rest of it: the real servers never answer ARP for the VIP. */
    private void noArpForTheVip() throws Exception {
        for (String rs : List.of(rs1, rs2)) {
            TestNetwork.run("ip", "netns", "exec", rs, "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1",
                    "net.ipv4.conf.all.arp_announce=2");
        }
    }

    /** Service "web" on VIP front:80 to rs1 and rs2 on LAN B (port 8080), in {@code mode} (its lines). */
    private String serverSideService(String mode) {
        return """
                services:
                  - name: web
                    vip: front
                    ports: [80]
                    %2$s
                    check: { type: connect, interval: 300ms, timeout: 200ms, rise: 1, fall: 2 }
                    servers:
                      - { name: rs1, address: %1$s21:8080, weight: 100 }
                      - { name: rs2, address: %1$s22:8080, weight: 100 }
                """.formatted(serverNet, mode);
    }

    /** LAN B: lb1's eth1 and the real servers, nginx on 8080; with {@code viaGateway} their default route is the floating gateway. */
    private String serverSide(boolean viaGateway) throws Exception {
        String lanB = network.lan("t");
        network.plug(lb1, lanB, 2, "eth1");
        network.address(lb1, "eth1", serverNet + "11/24");
        int port = 3;
        for (String rs : List.of(rs1, rs2)) {
            network.plug(rs, lanB, port++, "eth0");
            network.address(rs, "eth0", serverNet + (rs.equals(rs1) ? "21" : "22") + "/24");
            if (viaGateway) {
                TestNetwork.run("ip", "-n", rs, "route", "add", "default", "via", serverNet + "1");
            }
        }
        startServer(rs1, "rs1", 8080);
        startServer(rs2, "rs2", 8080);
        return lanB;
    }

    /** One node (a cluster of one) running {@code services}, with the VIPs both topologies use. */
    private void node(String services) throws Exception {
        writeConfig(services, false);
        start(lb1, "lb1");
    }

    private void writeConfig(String services, boolean pair) throws Exception {
        Files.writeString(work.resolve("baton.yaml"), """
                cluster:
                  name: kernel-%s
                  key-file: %s
                """.formatted(network.id, work.resolve("cluster.key"))
                + (pair ? """
                  witness: %1$s2
                  nodes:
                    - { id: lb1, address: %1$s11:7800, admin: 127.0.0.1:9090, priority: 200 }
                    - { id: lb2, address: %1$s12:7800, admin: 127.0.0.1:9090, priority: 100 }
                """.formatted(network.subnet) : """
                  nodes:
                    - { id: lb1, address: %s11:7800, admin: 127.0.0.1:9090, priority: 100 }
                """.formatted(network.subnet))
                + """
                vips:
                  - { name: front, address: %s/24, interface: eth0 }
                  - { name: gateway, address: %s1/24, interface: eth1 }
                  - { name: source, address: %s5/24, interface: eth1 }
                """.formatted(vip, serverNet, serverNet)
                + services);
    }

    private BatonProcess start(String namespace, String id) throws Exception {
        if (!TestNetwork.succeeds("ip", "-n", namespace, "link", "show", "eth1")) {
            // l4-dr has no server side: a veth pair of its own holds the other VIPs
            TestNetwork.run("ip", "-n", namespace, "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p");
            TestNetwork.run("ip", "-n", namespace, "link", "set", "eth1p", "up");
            TestNetwork.run("ip", "-n", namespace, "link", "set", "eth1", "up");
        }
        BatonProcess node = BatonProcess.launch(List.of("ip", "netns", "exec", namespace, "java",
                "@" + BatonProcess.repository().resolve("packaging/jvm.options"), "-jar", BatonProcess.jar().toString(),
                "node", "--config", work.resolve("baton.yaml").toString(), "--node", id, "--state-dir",
                work.resolve(id).toString()), work);
        processes.add(node);
        return node;
    }

    private void startServer(String namespace, String name, int port) throws Exception {
        Path prefix = Files.createDirectories(work.resolve("nginx-" + name));
        Files.writeString(prefix.resolve("nginx.conf"), """
                worker_processes 1;
                daemon off;
                user root;
                error_log %1$s/error.log warn;
                pid %1$s/nginx.pid;
                events { worker_connections 1024; }
                http {
                    access_log off;
                    server {
                        listen %2$d;
                        location / { return 200 "hello from %3$s"; }
                        location /big { root %1$s; }
                    }
                }
                """.formatted(prefix, port, name));
        servers.add(BatonProcess.launch(List.of("ip", "netns", "exec", namespace, "nginx", "-p", prefix.toString(),
                "-c", prefix.resolve("nginx.conf").toString()), work));
    }

    private BatonProcess.Result checkRealServer(String namespace, String... arguments) throws Exception {
        List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", namespace, "java", "-jar",
                BatonProcess.jar().toString(), "check-real-server"));
        command.addAll(List.of(arguments));
        try (BatonProcess check = BatonProcess.launch(command, work)) {
            return new BatonProcess.Result(check.waitForExit(), check.output());
        }
    }

    /** Stops a real server's nginx (its workers too: killing the master alone leaves them serving). */
    private void stopServer(String name) throws Exception {
        Path prefix = work.resolve("nginx-" + name);
        TestNetwork.run("nginx", "-p", prefix.toString(), "-c", prefix.resolve("nginx.conf").toString(), "-s", "stop");
    }

    /** {@code count} new connections from the client, one request each; the answers in order. */
    private List<String> requests(int count) throws Exception {
        String out = TestNetwork.run("ip", "netns", "exec", client, "bash", "-c",
                "for i in $(seq " + count + "); do curl -s -m 2 http://" + vip + "/; echo; done");
        return out.lines().filter(line -> !line.isBlank()).toList();
    }

    private String status() {
        return status(lb1);
    }

    private String status(String namespace) {
        return NamespaceNodes.status(namespace);
    }

    private BatonProcess capture(String namespace, String iface) throws Exception {
        Path file = work.resolve("capture-" + iface + "-" + System.nanoTime() + ".pcap");
        BatonProcess capture = BatonProcess.launch(List.of("ip", "netns", "exec", namespace, "tcpdump", "-i", iface,
                "-n", "-U", "-w", file.toString(), "tcp"), work);
        processes.add(capture);
        captures.put(capture, file);
        await().atMost(Duration.ofSeconds(10)).until(() -> capture.output().contains("listening on"));
        return capture;
    }

    private void stop(BatonProcess capture) throws Exception {
        capture.terminate();
        capture.waitForExit();
    }

    /** The captured packets that match a tcpdump filter, one line each. */
    private String read(BatonProcess capture, String filter) throws Exception {
        return TestNetwork.run("tcpdump", "-n", "-r", captures.get(capture).toString(), filter);
    }

    private static long lines(String text) {
        return text.lines().filter(line -> !line.isBlank() && !line.startsWith("reading from")).count();
    }
}
