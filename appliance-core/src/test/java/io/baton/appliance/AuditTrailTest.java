package io.baton.appliance;

import io.baton.appliance.admin.AdminTokens;
import io.baton.cluster.history.AuditTrail;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The audit trail as operators use it: changes of every kind made through different nodes with
 * their own tokens and reasons, then {@code baton config history} on every node, including one
 * that was stopped while a change was made.
 */
class AuditTrailTest {

    @TempDir
    Path work;

    @Test
    void everyNodeShowsWhoMadeEachChangeFromWhereAndWhyWhereverItWasMade() throws Exception {
        String ops = AdminTokens.newLine("ops", AdminTokens.Role.ADMIN);
        String night = AdminTokens.newLine("night-shift", AdminTokens.Role.ADMIN);
        Path tokens = Files.writeString(work.resolve("admin.tokens"), ops + "\n" + night + "\n");
        Files.setPosixFilePermissions(tokens, PosixFilePermissions.fromString("rw-------"));
        Path opsToken = Files.writeString(work.resolve("ops.token"), ops + "\n");
        Path nightToken = Files.writeString(work.resolve("night.token"), night + "\n");

        try (LoopbackCluster cluster = LoopbackCluster.start(work, 2, tokens)) {
            String one = cluster.node(1).adminAddress().toString();
            String two = cluster.node(2).adminAddress().toString();

            assertThat(TestCli.run("config", "apply", cluster.file(40).toString(), "--admin", two, "--token-file",
                    opsToken.toString(), "--reason", "CHG-1234 less load on rs1")).startsWith("0:");
            assertThat(TestCli.run("drain", "web", "rs1", "--admin", one, "--token-file", nightToken.toString(),
                    "--reason", "mise à jour du micrologiciel")).startsWith("0:");
            assertThat(TestCli.run("config", "rollback", "1", "--admin", one, "--token-file", opsToken.toString()))
                    .startsWith("0:");

            for (String admin : List.of(one, two)) {
                await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(history(admin, opsToken))
                        .startsWith("0:")
                        .containsPattern("n2  apply  revision 2  by ops from 127\\.0\\.0\\.1:\\d+  because: CHG-1234"
                                + " less load on rs1\n    services: ~web \\(servers: ~rs1\\)")
                        .containsPattern("n1  drain  revision 2  by night-shift from 127\\.0\\.0\\.1:\\d+  because:"
                                + " mise à jour du micrologiciel\n    web/rs1: drain")
                        .containsPattern("n1  rollback  revision 3  by ops from 127\\.0\\.0\\.1:\\d+\n    to revision"
                                + " 1: services: ~web \\(servers: ~rs1\\)"));
            }
            String applied = history(one, opsToken);
            assertThat(applied.indexOf("apply")).as("oldest first").isLessThan(applied.indexOf("drain"));
            assertThat(applied.indexOf("drain")).isLessThan(applied.indexOf("rollback"));

            // a node that was stopped learns the changes made without it when it rejoins, and keeps its own
            cluster.stop(2);
            assertThat(TestCli.run("online", "web", "rs1", "--admin", one, "--token-file", nightToken.toString(),
                    "--reason", "firmware done")).startsWith("0:");
            String back = cluster.restart(2).adminAddress().toString();
            await().atMost(Duration.ofSeconds(15)).untilAsserted(() -> assertThat(history(back, opsToken))
                    .contains("n2  apply  revision 2  by ops")
                    .containsPattern("n1  online  revision 3  by night-shift from 127\\.0\\.0\\.1:\\d+  because:"
                            + " firmware done"));
            assertThat(Files.readString(cluster.stateDir(2).resolve("audit.jsonl")))
                    .as("kept with the config store").contains("firmware done").contains("CHG-1234");
        }
    }

    @Test
    void aReasonIsKeptAsOneBoundedLineWhateverTheCallerSends() throws Exception {
        try (LoopbackCluster cluster = LoopbackCluster.start(work, 1)) {
            String admin = cluster.node(1).adminAddress().toString();
            String hostile = "line one\r\nX-Injected: yes\u0000\u001b[31m" + "x".repeat(5000);

            assertThat(TestCli.run("drain", "web", "rs1", "--admin", admin, "--reason", hostile)).startsWith("0:");

            AuditTrail.Entry entry = cluster.node(1).audit().entries().get(0);
            assertThat(entry.reason()).doesNotContain("\n").doesNotContain("\r").doesNotContain("\u0000")
                    .doesNotContain("\u001b").startsWith("line one  X-Injected: yes").endsWith("...")
                    .hasSize(AuditTrail.MAX_TEXT);
            assertThat(entry.caller()).isEqualTo("local");
            assertThat(TestCli.run("config", "history", "--admin", admin)).startsWith("0:")
                    .contains("n1  drain  revision 1  by local from 127.0.0.1:");
            assertThat(TestCli.run("config", "history", "--admin", admin, "--json")).startsWith("0:")
                    .contains("\"action\" : \"drain\"").contains("\"caller\" : \"local\"");
        }
    }

    private static String history(String admin, Path token) {
        return TestCli.run("config", "history", "--admin", admin, "--token-file", token.toString());
    }
}
