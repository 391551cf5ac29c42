package io.baton.appliance;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.baton.config.HostPort;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The {@code baton} command as operators and scripts use it: the real jar, real processes, real files. */
class CliIT {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path work;

    private Path example;

    @Test
    void configCheckAcceptsTheExample() throws Exception {
        BatonProcess.Result result = BatonProcess.run(work, "config", "check", "examples/pacs.yaml");

        assertThat(result.exitCode()).as(result.output()).isZero();
        assertThat(result.output()).contains("examples/pacs.yaml: valid");
    }

    @Test
    void configCheckNamesAnUnknownKeyAndAnInvalidAddressAndExits1() throws Exception {
        Path broken = work.resolve("broken.yaml");
        Files.writeString(broken, Files.readString(BatonProcess.repository().resolve("examples/pacs.yaml"))
                .replace("  preempt: false", "  preempt: false\n  pre-empt: true")
                .replace("10.20.1.12, weight", "10.20.1.312, weight"));

        BatonProcess.Result result = BatonProcess.run(work, "config", "check", broken.toString());

        assertThat(result.exitCode()).isEqualTo(1);
        assertThat(result.output())
                .contains("2 error(s)")
                .contains("cluster.pre-empt: unknown key (did you mean \"preempt\"?)")
                .contains("services[1].servers[1].address: \"10.20.1.312\" is not an IPv4 address:port");
    }

    @Test
    void configCheckRefusesAScriptOutsideTheTrustedDirectoryOrLinkedOutOfItNamingTheField() throws Exception {
        Path trusted = Files.createDirectories(work.resolve("checks"));
        Path outside = Files.writeString(work.resolve("evil.sh"), "#!/bin/sh\nexit 0\n");
        Files.setPosixFilePermissions(outside, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.createSymbolicLink(trusted.resolve("link.sh"), outside);
        Path config = work.resolve("scripts.yaml");
        Files.writeString(config, Files.readString(BatonProcess.repository().resolve("examples/pacs.yaml"))
                .replace("check: { type: hl7, receiving-application: ENGINE, interval: 5s, timeout: 2s, rise: 2, fall: 3 }",
                        "check: { type: external, script: '" + outside + "' }")
                .replace("      type: dicom-echo\n      port: 104\n      calling-ae: BATON\n      called-ae: PACS\n",
                        "      type: external\n      script: link.sh\n"));

        BatonProcess.Result result = BatonProcess.run(work, "config", "check", "--checks-dir", trusted.toString(),
                config.toString());

        assertThat(result.exitCode()).as(result.output()).isEqualTo(1);
        assertThat(result.output())
                .contains("2 error(s)")
                .contains("services[1].check.script: \"link.sh\"")
                .contains("services[2].check.script: \"" + outside + "\"")
                .contains("symbolic link out")
                .contains("outside the trusted");
    }

    @Test
    void revisionsOfADirectoryThatHoldsNoStoreSaySoExit1AndCreateNothing() throws Exception {
        Path typo = work.resolve("var-lib-baton-lb1-typo");

        BatonProcess.Result result = BatonProcess.run(work, "config", "revisions", "--store", typo.toString());

        assertThat(result.exitCode()).isEqualTo(1);
        assertThat(result.output()).contains("no config store at " + typo + ": it does not exist");
        assertThat(Files.exists(typo)).isFalse();
    }

    @Test
    void aClientCommandExits2WhenTheNodeIsUnreachable() throws Exception {
        int closedPort = TestHttp.freePort();

        BatonProcess.Result result = BatonProcess.run(work, "status", "--admin", "127.0.0.1:" + closedPort);

        assertThat(result.exitCode()).isEqualTo(2);
        assertThat(result.output()).contains("cannot reach the node's admin API at http://127.0.0.1:" + closedPort);
    }

    @Test
    void aWrongCommandLineExits64() throws Exception {
        BatonProcess.Result result = BatonProcess.run(work, "config", "chek", "x");

        assertThat(result.exitCode()).isEqualTo(64);
        assertThat(result.output()).contains("Did you mean");
    }

    @Test
    void aNodeServesStatusTakesConfigStopsCleanlyAndRecoversFromADamagedStore() throws Exception {
        example = LoopbackExample.write(work);
        Path state = work.resolve("state");
        HostPort admin = new HostPort("127.0.0.1", TestHttp.freePort());
        String adminArg = admin.toString();

        try (BatonProcess node = startNode(state, admin)) {
            BatonProcess.Result status = BatonProcess.run(work, "status", "--admin", adminArg);
            assertThat(status.exitCode()).as(status.output()).isZero();
            assertThat(status.output())
                    .contains("Cluster radiology-lb")
                    .contains("Config revision 1")
                    .containsPattern("lb1 \\*\\s+ACTIVE\\s+200\\s+1")
                    .containsPattern("lb2\\s+LOST\\s+100\\s+-")
                    .contains("WARNING: possible split brain")
                    .containsPattern("pacs-dicom\\s+pacs-front 127.20.0.100\\s+104,11112\\s+l4-dr")
                    .containsPattern("hl7-mllp\\s+engine-standby\\s+127.20.2.32:2575\\s+100\\s+online");

            BatonProcess.Result json = BatonProcess.run(work, "status", "--json", "--admin", adminArg);
            assertThat(JSON.readTree(json.output()).at("/config/revision").asLong()).isEqualTo(1);

            Path bad = work.resolve("bad.yaml");
            Files.writeString(bad, Files.readString(example).replace("mode: l4-dr", "mode: l4-direct"));
            BatonProcess.Result rejected = BatonProcess.run(work, "config", "apply", bad.toString(), "--admin", adminArg);
            assertThat(rejected.exitCode()).isEqualTo(1);
            assertThat(rejected.output()).contains("services[1].mode: \"l4-direct\" is not one of");

            Path good = work.resolve("good.yaml");
            Files.writeString(good, Files.readString(example).replace("priority: 100", "priority: 150"));
            BatonProcess.Result applied = BatonProcess.run(work, "config", "apply", good.toString(), "--admin", adminArg);
            assertThat(applied.exitCode()).as(applied.output()).isZero();
            assertThat(applied.output()).contains("as config revision 2");

            node.terminate();
            assertThat(node.waitForExit()).as(node.output()).isZero();
            assertThat(node.output()).contains("received SIGTERM: stopping node lb1", "node lb1 stopped");
        }

        try (BatonProcess node = startNode(state, admin)) {
            JsonNode config = JSON.readTree(TestHttp.get(admin, "/api/v1/config").body());
            assertThat(config.get("revision").asLong()).isEqualTo(2);
            assertThat(config.at("/config/cluster/nodes/1/priority").asInt()).isEqualTo(150);
            node.terminate();
            assertThat(node.waitForExit()).isZero();
        }

        Path appliedFile = state.resolve("revision-0000000002.json");
        byte[] bytes = Files.readAllBytes(appliedFile);
        Files.write(appliedFile, Arrays.copyOf(bytes, bytes.length / 3));
        try (BatonProcess refused = BatonProcess.start(work, "node", "--config", example.toString(), "--node",
                "lb1", "--state-dir", state.toString(), "--admin", adminArg)) {
            assertThat(refused.waitForExit()).isEqualTo(1);
            assertThat(refused.output())
                    .contains(appliedFile.toString())
                    .contains("The last good revision is 1")
                    .contains("baton config rollback 1 --store " + state);
        }

        BatonProcess.Result rollback = BatonProcess.run(work, "config", "rollback", "1", "--store", state.toString());
        assertThat(rollback.exitCode()).as(rollback.output()).isZero();
        assertThat(rollback.output()).contains("restored revision 1 as config revision 3");

        try (BatonProcess node = startNode(state, admin)) {
            assertThat(JSON.readTree(TestHttp.get(admin, "/api/v1/config").body()).get("revision").asLong())
                    .isEqualTo(3);
        }
    }

    @Test
    void keygenMakesTheKeyAPairStartsWithAndWithoutItANodeStoresNothing() throws Exception {
        example = LoopbackExample.write(work);
        Path key = work.resolve("cluster.key");
        Files.delete(key); // made below as an operator would
        Path keyless = work.resolve("keyless.yaml");
        Files.writeString(keyless, Files.readString(example).replaceAll("(?m)^  key-file: .*\n", ""));

        BatonProcess.Result check = BatonProcess.run(work, "config", "check", keyless.toString());
        assertThat(check.exitCode()).isEqualTo(1);
        assertThat(check.output()).contains("cluster.key-file: a cluster of 2 nodes must have a shared key");

        Path state1 = work.resolve("state1");
        HostPort admin1 = new HostPort("127.0.0.1", TestHttp.freePort());
        try (BatonProcess refused = BatonProcess.start(work, "node", "--config", example.toString(), "--node", "lb1",
                "--state-dir", state1.toString(), "--admin", admin1.toString())) {
            assertThat(refused.waitForExit()).isEqualTo(1);
            assertThat(refused.output()).contains("cluster.key-file: the cluster key file " + key + " does not exist")
                    .contains("baton keygen").contains("nothing was stored");
        }
        try (var stored = Files.list(state1)) {
            assertThat(stored.map(path -> path.getFileName().toString()))
                    .as("a node that cannot start stores no revision").noneMatch(name -> name.startsWith("revision-"));
        }

        BatonProcess.Result keygen = BatonProcess.run(work, "keygen", key.toString());
        assertThat(keygen.exitCode()).as(keygen.output()).isZero();
        assertThat(keygen.output()).contains("wrote cluster key").contains("Copy it to every node");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(key)))
                .isEqualTo("rw-------");
        assertThat(BatonProcess.run(work, "keygen", key.toString()).exitCode()).as("never overwrites a key").isEqualTo(1);
        BatonProcess.Result valid = BatonProcess.run(work, "config", "check", example.toString());
        assertThat(valid.exitCode()).as(valid.output()).isZero();

        HostPort admin2 = new HostPort("127.0.0.1", TestHttp.freePort());
        try (BatonProcess lb1 = startNode(state1, admin1);
             BatonProcess lb2 = BatonProcess.start(work, "node", "--config", example.toString(), "--node", "lb2",
                     "--state-dir", work.resolve("state2").toString(), "--admin", admin2.toString())) {
            await().atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                    assertThat(BatonProcess.run(work, "status", "--admin", admin1.toString()).output())
                            .containsPattern("lb1 \\*\\s+ACTIVE").containsPattern("lb2\\s+PASSIVE"));
            assertThat(lb2.output()).contains("over mutual TLS");
        }
    }

    private BatonProcess startNode(Path state, HostPort admin) throws Exception {
        BatonProcess node = BatonProcess.start(work, "node", "--config", example.toString(), "--node", "lb1",
                "--state-dir", state.toString(), "--admin", admin.toString());
        awaitHealthy(node, admin);
        return node;
    }


    @Test
    void aNodeForwardsThroughItsVipAndDrainTakesAServerOutOfRotation() throws Exception {
        try (TestBackend one = new TestBackend("one"); TestBackend two = new TestBackend("two")) {
            int vipPort = TestHttp.freePort();
            HostPort admin = new HostPort("127.0.0.1", TestHttp.freePort());
            Path config = work.resolve("loopback.yaml");
            Files.writeString(config, """
                    cluster: { name: loop, nodes: [{ id: lb1, address: 127.0.0.1:%d, admin: %s }] }
                    vips: [{ name: v, address: 127.0.0.1/32, interface: lo }]
                    services:
                      - name: web
                        vip: v
                        ports: [%d]
                        mode: l7-snat
                        l7: http
                        scheduler: rr
                        servers:
                          - { name: one, address: 127.0.0.1:%d }
                          - { name: two, address: 127.0.0.1:%d }
                    """.formatted(TestHttp.freePort(), admin, vipPort, one.port(), two.port()));
            try (BatonProcess node = BatonProcess.start(work, "node", "--config", config.toString(), "--node", "lb1",
                    "--state-dir", work.resolve("state").toString())) {
                awaitHealthy(node, admin);
                HostPort vip = new HostPort("127.0.0.1", vipPort);
                assertThat(answers(vip, 10)).containsOnly("one", "two").contains("one", "two");

                BatonProcess.Result drain = BatonProcess.run(work, "drain", "web", "one", "--admin", admin.toString());
                assertThat(drain.exitCode()).as(drain.output()).isZero();
                assertThat(drain.output()).contains("web/one is now drain on every node (server states version 1;");
                assertThat(answers(vip, 10)).containsOnly("two");

                // re-applying the config file (which says nothing of states) does not undo the drain, and says so
                BatonProcess.Result reapply = BatonProcess.run(work, "config", "apply", config.toString(), "--admin",
                        admin.toString());
                assertThat(reapply.exitCode()).as(reapply.output()).isZero();
                assertThat(reapply.output()).contains("unchanged").contains("web/one stays drain");
                assertThat(answers(vip, 10)).containsOnly("two");

                BatonProcess.Result status = BatonProcess.run(work, "status", "--admin", admin.toString());
                assertThat(status.output()).containsPattern("web\\s+one\\s+127.0.0.1:\\d+\\s+100\\s+drain");

                BatonProcess.Result unknown = BatonProcess.run(work, "halt", "web", "three", "--admin", admin.toString());
                assertThat(unknown.exitCode()).isEqualTo(1);
                assertThat(unknown.output()).contains("has no server \"three\"");

                assertThat(BatonProcess.run(work, "online", "web", "one", "--admin", admin.toString()).exitCode()).isZero();
                assertThat(answers(vip, 10)).contains("one", "two");
            }
        }
    }

    private static java.util.List<String> answers(HostPort vip, int requests) throws Exception {
        java.util.List<String> answers = new java.util.ArrayList<>();
        for (int i = 0; i < requests; i++) {
            HttpResponse<String> response = TestHttp.get(vip, "/");
            assertThat(response.statusCode()).isEqualTo(200);
            answers.add(response.body().strip());
        }
        return answers;
    }

    private static void awaitHealthy(BatonProcess node, HostPort admin) {
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                .ignoreExceptions()
                // the output read when it exits, not when the wait starts (it was empty then)
                .failFast(() -> assertThat(node.isAlive()).as("the node is running; its output:%n%s", node.output())
                        .isTrue())
                .until(() -> TestHttp.get(admin, "/healthz").statusCode() == 200);
    }
}
