package io.baton.forwarding.kernel;

import io.baton.config.BatonConfig;
import io.baton.config.ConfigParser;
import io.baton.forwarding.Health;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * When the data plane programs the kernel: only while active, again on a health change that
 * changes the table, never for nothing. The host is recorded here (KernelDataPlaneIT runs the real
 * nft in namespaces).
 */
class KernelDataPlaneTest {

    private static final java.time.Duration WAIT = java.time.Duration.ofSeconds(5);

    /** Records every script; nothing reaches a kernel. */
    private static final class RecordingHost implements KernelHost {
        final List<String> scripts = new ArrayList<>();
        boolean forwarding;

        @Override
        public void nft(String script) {
            scripts.add(script);
        }

        @Override
        public Map<String, long[]> counters() {
            return Map.of("web__a", new long[] {3, 300});
        }

        @Override
        public String ownMac(String iface) {
            return "02:00:00:00:00:01";
        }

        @Override
        public String neighbourMac(String iface, String address) {
            return null;
        }

        @Override
        public void enableForwarding() {
            forwarding = true;
        }
    }

    private static BatonConfig config() throws Exception {
        return ConfigParser.parse("""
                cluster:
                  name: c
                  nodes: [{ id: lb1, address: 10.0.0.1:7800, admin: 127.0.0.1:9090 }]
                vips:
                  - { name: front, address: 10.0.0.100/24, interface: eth0 }
                  - { name: gateway, address: 10.1.0.1/24, interface: eth1 }
                services:
                  - name: web
                    vip: front
                    port: 80
                    mode: l4-nat
                    nat-gateway: gateway
                    servers:
                      - { name: a, address: 10.1.0.21 }
                      - { name: b, address: 10.1.0.22 }
                """, ConfigParser.Format.YAML);
    }

    @Test
    void onlyTheActiveNodeHasRulesAndAHealthChangeReprogramsThem() throws Exception {
        RecordingHost host = new RecordingHost();
        try (KernelDataPlane plane = new KernelDataPlane(host)) {
            plane.apply(config());
            assertThat(host.scripts).as("at start: only the removal of tables an earlier run left")
                    .containsExactly(KernelRuleset.removal());

            plane.setActive(true);
            assertThat(host.scripts).hasSize(2);
            assertThat(host.scripts.get(1)).contains("table ip baton {").contains("10.1.0.21").contains("10.1.0.22");
            assertThat(host.forwarding).isTrue();

            plane.setHealth("web", "a", Health.UP);
            plane.awaitSynced(WAIT);
            assertThat(host.scripts).as("a server already usable: nothing to change").hasSize(2);

            plane.setHealth("web", "b", Health.DOWN);
            plane.awaitSynced(WAIT);
            assertThat(host.scripts).hasSize(3);
            assertThat(host.scripts.get(2)).contains("dnat ip to 10.1.0.21\n").doesNotContain("10.1.0.22");
            assertThat(plane.plans().get(0).left()).containsKey("b");

            plane.setActive(false);
            plane.awaitSynced(WAIT);
            assertThat(host.scripts).hasSize(4);
            assertThat(host.scripts.get(3)).isEqualTo(KernelRuleset.removal());
            assertThat(plane.counters().get("web__a")).as("counts carried over from the replaced tables")
                    .containsExactly(6, 600);
        }
        assertThat(host.scripts).as("closing a passive node: nothing left to remove").hasSize(4);
    }

    /** A host whose nft fails, or hangs until released. */
    private static final class BrokenHost implements KernelHost {
        final java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        volatile boolean hang;
        volatile boolean fail = true;
        final List<String> scripts = new java.util.concurrent.CopyOnWriteArrayList<>();

        @Override
        public void nft(String script) throws java.io.IOException {
            if (hang) {
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            if (fail && !script.equals(KernelRuleset.removal())) {
                throw new java.io.IOException("nft -f - failed (exit 1): Error: Could not process rule");
            }
            scripts.add(script);
        }

        @Override
        public Map<String, long[]> counters() {
            return Map.of();
        }

        @Override
        public String ownMac(String iface) {
            return "02:00:00:00:00:01";
        }

        @Override
        public String neighbourMac(String iface, String address) {
            return null;
        }

        @Override
        public void enableForwarding() {
        }
    }

    @Test
    void aFailedProgrammingIsAnsweredAndShownUntilItWorks() throws Exception {
        BrokenHost host = new BrokenHost();
        try (KernelDataPlane plane = new KernelDataPlane(host)) {
            plane.apply(config());

            List<String> problems = plane.setActive(true);

            assertThat(problems).singleElement().asString().contains("cannot program nftables")
                    .contains("Could not process rule");
            assertThat(plane.problem()).contains("Could not process rule");
            host.fail = false;
            assertThat(plane.apply(config())).as("the same config, tried again").isEmpty();
            assertThat(plane.problem()).isNull();
        }
    }

    @Test
    void aHangingNftHoldsNoCallerPastItsBoundAndNoReader() throws Exception {
        BrokenHost host = new BrokenHost();
        host.fail = false;
        host.hang = true;
        KernelDataPlane plane = new KernelDataPlane(host);
        try {
            List<String> problems = plane.apply(config()); // returns after its bound, with why
            assertThat(problems).singleElement().asString().contains("not programmed within")
                    .contains("still waiting for nft");

            // what the status reads answers at once, and says why the kernel lags
            java.util.concurrent.CompletableFuture<String> status = java.util.concurrent.CompletableFuture.supplyAsync(
                    () -> plane.problem() + " " + plane.plans().size() + " " + plane.counters().size() + " " + plane.active());
            assertThat(status.get(1, java.util.concurrent.TimeUnit.SECONDS)).startsWith("waiting for nft");
            plane.setHealth("web", "a", Health.DOWN); // a health change does not wait either
            assertThat(plane.setActive(true)).singleElement().asString().contains("not programmed within");

            host.release.countDown();
            assertThat(plane.awaitSynced(WAIT)).isEmpty();
            assertThat(host.scripts.get(host.scripts.size() - 1)).contains("table ip baton {")
                    .doesNotContain("10.1.0.21").contains("10.1.0.22");
        } finally {
            host.release.countDown();
            plane.close();
        }
    }
}
