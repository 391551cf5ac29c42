package io.baton.appliance;

import io.baton.cluster.wire.ClusterKeys;
import io.baton.host.TestNetwork;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A pair run as packaging/baton.service runs a node: an unprivileged user with only CAP_NET_ADMIN,
 * CAP_NET_RAW and CAP_NET_BIND_SERVICE and no_new_privs (setpriv, as systemd's User=,
 * AmbientCapabilities=, CapabilityBoundingSet= and NoNewPrivileges= do), serving an L7 service on
 * port 80 and a kernel (nftables) service, through a kill -9 of the active node: the VIP moves,
 * the dead node's VIP guard removes its VIPs, and the survivor programs its kernel service.
 * Needs root to build the namespaces (CI runs as root).
 */
class LeastPrivilegeIT {

    /** nobody: no file of its own, no group, no capability but the three it is given. */
    private static final int UID = 65534;

    @TempDir
    Path work;

    private final TestNetwork network = new TestNetwork();
    private final List<BatonProcess> processes = new ArrayList<>();
    private String lb1;
    private String lb2;
    private String client;
    private String vip;
    private Path state;

    @BeforeEach
    void buildNetwork() throws Exception {
        String lan = network.lan();
        lb1 = network.namespace("a");
        lb2 = network.namespace("b");
        client = network.namespace("c");
        String server = network.namespace("r");
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

        // what the unit's install steps set up: files the node's user may read, a state directory it owns
        Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwx--x--x"));
        Path key = work.resolve("cluster.key");
        ClusterKeys.generate(key);
        TestNetwork.run("chown", UID + ":" + UID, key.toString());
        state = Files.createDirectory(work.resolve("state"));
        TestNetwork.run("chown", UID + ":" + UID, state.toString());
        Path config = Files.writeString(work.resolve("baton.yaml"), """
                cluster:
                  name: lp-%s
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
                  - name: kernel
                    vip: front
                    ports: [8081]
                    mode: l4-snat
                    check: { type: connect, interval: 500ms, timeout: 300ms }
                    servers: [{ name: rs1, address: %s21:8080 }]
                """.formatted(network.id, key, network.subnet, network.subnet, network.subnet, vip, network.subnet,
                network.subnet));
        Files.setPosixFilePermissions(config, PosixFilePermissions.fromString("rw-r--r--"));
    }

    @AfterEach
    void tearDown(org.junit.jupiter.api.TestInfo test) throws Exception {
        processes.forEach(BatonProcess::close);
        network.close();
        BatonProcess.saveOutputs(processes, "least-privilege-it", test.getTestMethod().orElseThrow().getName());
    }

    @Test
    void aPairWithOnlyThreeCapabilitiesServesBothModesAndFailsOverOnAKill() throws Exception {
        BatonProcess first = node(lb1, "lb1");
        await().atMost(Duration.ofSeconds(30)).until(() -> NamespaceNodes.holds(lb1, vip));
        BatonProcess second = node(lb2, "lb2");
        await().atMost(Duration.ofSeconds(30)).until(() -> NamespaceNodes.status(lb2).contains("\"role\" : \"PASSIVE\""));
        await().atMost(Duration.ofSeconds(10)).until(() -> served(80) && served(8081));
        for (BatonProcess node : List.of(first, second)) {
            assertThat(Files.readString(Path.of("/proc/" + node.pid() + "/status")))
                    .as("the node's JVM: the unit's user, its three capabilities, no way to gain more")
                    .containsPattern("Uid:\\s+" + UID + "\\s")
                    .containsPattern("CapEff:\\s+0000000000003400")
                    .containsPattern("CapBnd:\\s+0000000000003400")
                    .containsPattern("NoNewPrivs:\\s+1");
        }

        first.kill();

        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
                .until(() -> served(80) && served(8081));
        assertThat(NamespaceNodes.holds(lb2, vip)).isTrue();
        await("the dead node's VIP guard, unprivileged too, removes its VIP").atMost(Duration.ofSeconds(5))
                .until(() -> !NamespaceNodes.holds(lb1, vip));
        assertThat(NamespaceNodes.status(lb2)).contains("\"role\" : \"ACTIVE\"").contains("lb1 left the cluster");
        assertThat(second.output()).doesNotContain("Operation not permitted").doesNotContain("Permission denied");
    }

    private boolean served(int port) {
        try {
            return TestNetwork.run("ip", "netns", "exec", client, "curl", "-s", "--connect-timeout", "0.2", "-m", "0.5",
                    "http://" + vip + ":" + port + "/").contains("hello from rs1");
        } catch (Exception e) {
            return false;
        }
    }

    private BatonProcess node(String namespace, String id) throws Exception {
        BatonProcess node = NamespaceNodes.startUnprivileged(namespace, id, work, state, UID);
        processes.add(node);
        return node;
    }
}
