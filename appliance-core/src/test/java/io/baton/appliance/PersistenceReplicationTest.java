package io.baton.appliance;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Clients pinned on the active node are pinned on the passive one too, and reach the same servers after a failover. */
class PersistenceReplicationTest {

    private static final int CLIENTS = 20;

    @TempDir
    Path work;

    @Test
    void clientsPinnedBeforeAFailoverReachTheSameServersAfterIt() throws Exception {
        try (LoopbackPair pair = LoopbackPair.start(work)) {
            Map<Integer, String> pinned = new HashMap<>();
            // pinned in the reverse order of the checks below: a fresh round robin on n2 would then give every
            // client the other server, so only a replicated table passes
            for (int client = CLIENTS; client >= 1; client--) {
                pinned.put(client, pair.request("127.0.1." + client));
            }
            assertThat(pinned.values()).as("round robin spread the clients").contains("rs1", "rs2");
            await().atMost(Duration.ofSeconds(5)).until(() -> pair.two.persistence().size() == CLIENTS);

            assertThat(pair.one.failover()).isEqualTo("n2");
            await().atMost(Duration.ofSeconds(10)).until(() -> "n2".equals(pair.two.status().vips().get(0).holder()));

            for (int client = 1; client <= CLIENTS; client++) {
                assertThat(pair.request("127.0.1." + client)).as("client 127.0.1.%d after the failover", client)
                        .isEqualTo(pinned.get(client));
            }
        }
    }
}
