package io.baton.appliance;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The README's first command, and the launcher that runs it. */
class DemoIT {

    @TempDir
    Path work;

    @Test
    void theDemoBalancesThroughItsVipAndFailsOverToThePassiveNode() throws Exception {
        int admin = TestHttp.freePortPair(); // the second demo node's admin API takes the next port

        BatonProcess.Result result = BatonProcess.run(work, "demo", "--once", "--admin", "127.0.0.1:" + admin);

        assertThat(result.exitCode()).as(result.output()).isZero();
        assertThat(result.output())
                .contains("Cluster radiology-demo")
                .containsPattern("demo1 \\*\\s+ACTIVE")
                .containsPattern("pacs-front\\s+127.0.0.100/32\\s+lo\\s+demo1")
                .containsPattern("->\\s+200 hello from demo backend 1")
                .containsPattern("->\\s+200 hello from demo backend 2")
                .containsPattern("web-viewer\\s+viewer1\\s+127.0.0.1:\\d+\\s+100\\s+online\\s+up")
                .containsPattern("demo2\\s+PASSIVE\\s+100\\s+1")
                .contains("== Failover: stopping demo1")
                .containsPattern("demo2 \\*\\s+ACTIVE")
                .containsPattern("pacs-front\\s+127.0.0.100/32\\s+lo\\s+demo2")
                .contains("demo1 -> demo2 (epoch 2): demo1 is stopping")
                .containsPattern("web-viewer\\s+pacs-front 127.0.0.100\\s+8443\\s+l7-snat/http")
                .containsPattern("web-viewer\\s+viewer2\\s+127.0.0.1:\\d+")
                .contains("node demo1 stopped")
                .contains("node demo2 stopped")
                // after the graceful stop: demo1 left on purpose, which is no split brain
                .containsPattern("demo1\\s+LEFT")
                .doesNotContain("split brain")
                // two nodes in one process: every node's lines say which node wrote them
                .containsPattern("INFO  demo1 \\[baton-history")
                .containsPattern("INFO  demo2 \\[baton-history")
                .containsPattern("demo2 \\[baton-cluster[^\\n]*cluster view");
    }

    @Test
    void theLauncherRunsTheBuiltJarAndListsTheSubcommands() throws Exception {
        Path launcher = BatonProcess.repository().resolve("baton");
        try (BatonProcess help = BatonProcess.launch(List.of(launcher.toString(), "--help"), work)) {
            assertThat(help.waitForExit()).as(help.output()).isZero();
            assertThat(help.output()).contains("node", "config", "status", "demo").doesNotContain("building");
        }
    }
}
