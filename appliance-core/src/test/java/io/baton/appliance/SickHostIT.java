package io.baton.appliance;

import io.baton.host.TestNetwork;
import io.baton.cluster.wire.ClusterKeys;
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
 * A sick host and sick real servers never take a node down (needs root): nodes in namespaces with
 * the production JVM options, a stand-in {@code nft} first on their PATH (one that hangs for an
 * hour, one that fails), and real servers that keep their checks busy for ever (an SMTP greeting
 * that never ends, a DICOM peer streaming command fragments without the last one).
 *
 * <pre>
 *   lan (bridge) ── lb1 .11 ── lb2 .12 ── client .2 ── server .21 (web :8080, smtp :2525, dicom :11112)
 * </pre>
 */
class SickHostIT {

    @TempDir
    Path work;

    private final TestNetwork network = new TestNetwork();
    private final List<BatonProcess> processes = new ArrayList<>();
    /** How long the hanging stand-in sleeps: an hour, with a fraction that names this run (for clean-up). */
    private final String hang = "3600." + System.nanoTime() % 1_000_000;
    private String lb1;
    private String lb2;
    private String client;
    private String server;
    private String vip;

    @BeforeEach
    void buildNetwork() throws Exception {
        String lan = network.lan();
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
        String jar = BatonProcess.jar().toString();
        String tests = BatonProcess.repository().resolve("appliance-core/target/test-classes").toString();
        String rs = network.subnet + "21";
        processes.add(BatonProcess.launch(List.of("ip", "netns", "exec", server, "java", "-Xmx64m", "-cp", jar,
                "io.baton.appliance.demo.DemoBackend", "rs1", rs, "8080"), work));
        processes.add(BatonProcess.launch(List.of("ip", "netns", "exec", server, "java", "-Xmx64m", "-cp", tests,
                "io.baton.appliance.HostileServer", "smtp-endless", rs, "2525"), work));
        processes.add(BatonProcess.launch(List.of("ip", "netns", "exec", server, "java", "-Xmx64m", "-cp", tests,
                "io.baton.appliance.HostileServer", "dicom-fragments", rs, "11112"), work));
        ClusterKeys.generate(work.resolve("cluster.key"));
    }

    @AfterEach
    void tearDown(org.junit.jupiter.api.TestInfo test) throws Exception {
        processes.forEach(BatonProcess::close);
        // a stand-in started as a node stopped outlives it (its deadline was the node's): end it here
        new ProcessBuilder("pkill", "-f", "sleep " + hang).start().waitFor();
        network.close();
        BatonProcess.saveOutputs(processes, "sick-host-it", test.getTestMethod().orElseThrow().getName());
    }

    @Test
    void anNftThatHangsAndServersThatNeverFinishHoldUpNeitherFailoverNorHealthzNorTheOtherChecks() throws Exception {
        Path bin = standIn("nft", "#!/bin/sh\nexec sleep " + hang + "\n");
        config("""
                  - name: dicom-dr
                    vip: front
                    ports: [104]
                    mode: l4-dr
                    check: { type: none }
                    servers: [{ name: pacs1, address: %1$s21 }]
                """.formatted(network.subnet));
        BatonProcess first = node(lb1, "lb1", bin);
        await().atMost(Duration.ofSeconds(30)).until(() -> status(lb1).contains("\"role\" : \"ACTIVE\""));
        node(lb2, "lb2", bin);
        await().atMost(Duration.ofSeconds(30)).until(() -> status(lb2).contains("\"role\" : \"PASSIVE\""));

        // the checks: the healthy server UP on both nodes, the hostile ones DOWN with what they did
        for (String lb : List.of(lb1, lb2)) {
            await().atMost(Duration.ofSeconds(30)).until(() -> upAndDown(status(lb)));
        }
        assertThat(status(lb1)).contains("reading the SMTP greeting").contains("without the last one");
        assertThat(healthz(lb1)).isTrue();
        assertThat(status(lb1)).as("the active node's kernel service waits for the hung nft")
                .contains("NOT PROGRAMMED");
        await().atMost(Duration.ofSeconds(10)).until(() -> NamespaceNodes.answers(client, vip));

        first.kill(); // -9: lb2 takes over, its nft hung too

        await().atMost(Duration.ofSeconds(10)).until(() -> status(lb2).contains("\"role\" : \"ACTIVE\""));
        await().atMost(Duration.ofSeconds(10)).until(() -> NamespaceNodes.answers(client, vip));
        assertThat(healthz(lb2)).isTrue();
        assertThat(upAndDown(status(lb2))).isTrue();
        assertThat(processes.get(processes.size() - 1).output()).doesNotContain("OutOfMemoryError");
        assertThat(first.output()).doesNotContain("OutOfMemoryError");
    }

    @Test
    void anNftThatFailsIsNamedInTheApplyAnswerAndInTheStatus() throws Exception {
        Path bin = standIn("nft", "#!/bin/sh\ncat >/dev/null\necho 'Error: the stand-in refuses every ruleset' >&2\nexit 1\n");
        config("");
        node(lb1, "lb1", bin);
        await().atMost(Duration.ofSeconds(30)).until(() -> status(lb1).contains("\"role\" : \"ACTIVE\""));

        config("""
                  - name: dicom-dr
                    vip: front
                    ports: [104]
                    mode: l4-dr
                    check: { type: none }
                    servers: [{ name: pacs1, address: %1$s21 }]
                """.formatted(network.subnet));
        BatonProcess.Result inNamespace = applyInNamespace(); // the admin API listens in lb1's namespace

        assertThat(inNamespace.exitCode()).as(inNamespace.output()).isEqualTo(1);
        assertThat(inNamespace.output()).contains("as config revision 2")
                .contains("does not run all of it").contains("the stand-in refuses every ruleset");
        await().atMost(Duration.ofSeconds(5)).until(() -> status(lb1).contains("NOT PROGRAMMED"));
        assertThat(status(lb1)).contains("the stand-in refuses every ruleset");
        assertThat(TestNetwork.run("ip", "netns", "exec", lb1, "java", "-jar", BatonProcess.jar().toString(), "status"))
                .contains("NOT PROGRAMMED");
    }

    private BatonProcess.Result applyInNamespace() throws Exception {
        BatonProcess process = BatonProcess.launch(List.of("ip", "netns", "exec", lb1, "java", "-jar",
                BatonProcess.jar().toString(), "config", "apply", work.resolve("baton.yaml").toString()), work);
        processes.add(process);
        return new BatonProcess.Result(process.waitForExit(), process.output());
    }

    /** rs1 UP, the endless greeting and the endless DICOM command DOWN. */
    private static boolean upAndDown(String status) {
        return health(status, "rs1").equals("up") && health(status, "mail1").equals("down")
                && health(status, "pacs2").equals("down");
    }

    /** The health a status report gives a real server; "" when it names none. */
    private static String health(String status, String server) {
        try {
            for (com.fasterxml.jackson.databind.JsonNode found : new com.fasterxml.jackson.databind.ObjectMapper()
                    .readTree(status).findParents("health")) {
                if (found.path("name").asText().equals(server)) {
                    return found.path("health").asText();
                }
            }
        } catch (java.io.IOException e) {
            return "";
        }
        return "";
    }

    private boolean healthz(String namespace) {
        return NamespaceNodes.admin(namespace, "/healthz").contains("\"status\" : \"ok\"")
                || NamespaceNodes.admin(namespace, "/healthz").contains("\"status\":\"ok\"");
    }

    private Path standIn(String tool, String script) throws Exception {
        Path bin = Files.createDirectories(work.resolve("bin"));
        Path file = bin.resolve(tool);
        Files.writeString(file, script);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
        return bin;
    }

    private BatonProcess node(String namespace, String id, Path bin) throws Exception {
        BatonProcess node = NamespaceNodes.start(namespace, id, work, bin);
        processes.add(node);
        return node;
    }

    private String status(String namespace) {
        return NamespaceNodes.status(namespace);
    }

    /** The pair's config: a web service, the two hostile servers' services, and {@code more} services. */
    private void config(String more) throws Exception {
        Files.writeString(work.resolve("baton.yaml"), """
                cluster:
                  name: sick-%1$s
                  key-file: %2$s
                  witness: %3$s2
                  nodes:
                    - { id: lb1, address: %3$s11:7800, admin: 127.0.0.1:9090, priority: 200 }
                    - { id: lb2, address: %3$s12:7800, admin: 127.0.0.1:9090, priority: 100 }
                vips: [{ name: front, address: %4$s/24, interface: eth0 }]
                services:
                  - name: web
                    vip: front
                    ports: [80]
                    mode: l7-snat
                    l7: http
                    check: { type: http, path: /, interval: 500ms, timeout: 1s }
                    servers: [{ name: rs1, address: %3$s21:8080 }]
                  - name: mail
                    vip: front
                    ports: [25]
                    mode: l7-snat
                    l7: tcp
                    check: { type: smtp, interval: 500ms, timeout: 1s, fall: 1 }
                    servers: [{ name: mail1, address: %3$s21:2525 }]
                  - name: pacs
                    vip: front
                    ports: [11112]
                    mode: l7-snat
                    l7: tcp
                    check: { type: dicom-echo, interval: 500ms, timeout: 2s, fall: 1 }
                    servers: [{ name: pacs2, address: %3$s21:11112 }]
                """.formatted(network.id, work.resolve("cluster.key"), network.subnet, vip) + more);
    }
}
