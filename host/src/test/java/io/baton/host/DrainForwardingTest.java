package io.baton.host;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The nft script that sends a draining peer its connections' packets: applied by the real nft in a
 * namespace made for the test (needs root), changed and removed; and what a peer may not put in it.
 */
class DrainForwardingTest {

    private static final String OWN = "02:00:00:00:00:01";
    private static final String PEER = "02:00:00:00:00:02";

    private final TestNetwork network = new TestNetwork();

    @AfterEach
    void cleanUp() {
        network.close();
    }

    private void nft(String namespace, String script) throws Exception {
        Path file = Files.createTempFile("drain-forwarding", ".nft");
        try {
            Files.writeString(file, script, StandardCharsets.UTF_8);
            TestNetwork.run("ip", "netns", "exec", namespace, "nft", "-f", file.toString());
        } finally {
            Files.delete(file);
        }
    }

    @Test
    void theScriptIsAcceptedByNftChangesItsChainsAndIsRemovedWhole() throws Exception {
        String lb = network.namespace("l");
        String other = network.namespace("o");
        network.veth("a" + network.id, lb, "b" + network.id, other);
        network.veth("c" + network.id, lb, "d" + network.id, other);
        DrainForwarding.Route first = new DrainForwarding.Route("a" + network.id, OWN, PEER,
                List.of(network.subnet + "100", network.subnet + "101"), List.of(80, 104));
        DrainForwarding.Route second = new DrainForwarding.Route("c" + network.id, OWN, PEER,
                List.of(network.subnet + "102"), List.of(443));

        nft(lb, DrainForwarding.script(List.of(), List.of(first, second)));
        String both = TestNetwork.run("ip", "netns", "exec", lb, "nft", "list", "table", "netdev",
                DrainForwarding.TABLE);
        assertThat(both).contains("chain in_a" + network.id).contains("chain in_c" + network.id)
                .contains("fwd to \"a" + network.id + "\"").contains("ether daddr set " + PEER)
                .contains(network.subnet + "101").contains("tcp dport { 80, 104 }");

        // a route that goes away takes its chain along; the set of this node's connections stays
        nft(lb, DrainForwarding.script(List.of(first, second), List.of(first)));
        String one = TestNetwork.run("ip", "netns", "exec", lb, "nft", "list", "table", "netdev",
                DrainForwarding.TABLE);
        assertThat(one).contains("chain in_a" + network.id).doesNotContain("chain in_c" + network.id)
                .contains("set here");

        // the same routes again: the chain is refilled, not doubled
        nft(lb, DrainForwarding.script(List.of(first), List.of(first)));
        String again = TestNetwork.run("ip", "netns", "exec", lb, "nft", "list", "table", "netdev",
                DrainForwarding.TABLE);
        assertThat(again.split("fwd to", -1)).hasSize(2);

        nft(lb, DrainForwarding.REMOVE);
        assertThat(TestNetwork.run("ip", "netns", "exec", lb, "nft", "list", "tables"))
                .doesNotContain(DrainForwarding.TABLE);
        nft(lb, DrainForwarding.REMOVE); // and when there is none
    }

    @Test
    void whatAPeerSaysGoesIntoTheScriptOnlyAsANameMacsAndAddresses() {
        List<DrainForwarding.Route> hostile = List.of(
                new DrainForwarding.Route("eth0\" ; flush ruleset ; \"", OWN, PEER, List.of("10.0.0.1"), List.of(80)),
                new DrainForwarding.Route("an-interface-name-too-long", OWN, PEER, List.of("10.0.0.1"), List.of(80)),
                new DrainForwarding.Route("eth0", OWN, "02:00:00:00:00:02 fwd to \"lo\"", List.of("10.0.0.1"), List.of(80)),
                new DrainForwarding.Route("eth0", "02:00:00:00:00", PEER, List.of("10.0.0.1"), List.of(80)),
                new DrainForwarding.Route("eth0", OWN, PEER, List.of("10.0.0.1 } accept; ip daddr { 10.0.0.2"), List.of(80)),
                new DrainForwarding.Route("eth0", OWN, PEER, List.of(), List.of(80)),
                new DrainForwarding.Route("eth0", OWN, PEER, List.of("10.0.0.1"), List.of()),
                new DrainForwarding.Route("eth0", OWN, PEER, List.of("10.0.0.1"), List.of(0)),
                new DrainForwarding.Route("eth0", OWN, PEER, List.of("10.0.0.1"), List.of(65_536)));
        for (DrainForwarding.Route route : hostile) {
            assertThatThrownBy(() -> DrainForwarding.script(List.of(), List.of(route)))
                    .as(route.toString()).isInstanceOf(IllegalArgumentException.class);
        }
    }
}
