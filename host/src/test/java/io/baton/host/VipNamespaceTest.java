package io.baton.host;

import io.baton.config.VipConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** VIPs and gratuitous ARP on real interfaces, in namespaces made for the test (needs root). */
class VipNamespaceTest {

    private final TestNetwork network = new TestNetwork();

    @AfterEach
    void cleanUp() {
        network.close();
    }

    /** A balancer and a client namespace on one veth pair, at .1 and .2 of the test's subnet. */
    private record Link(String lb, String client, String lbSide, String clientSide) {
    }

    private Link link() throws Exception {
        Link link = new Link(network.namespace("l"), network.namespace("c"), "v" + network.id + "l",
                "v" + network.id + "c");
        network.veth(link.lbSide(), link.lb(), link.clientSide(), link.client());
        network.address(link.lb(), link.lbSide(), network.subnet + "1/24");
        network.address(link.client(), link.clientSide(), network.subnet + "2/24");
        return link;
    }

    @Test
    void aClaimedVipAnswersTheClientAndAReleasedOneIsGone() throws Exception {
        Link link = link();
        String lb = link.lb();
        String client = link.client();
        String lbSide = link.lbSide();
        VipConfig vip = new VipConfig("front", network.subnet + "100", 24, lbSide);
        List<String> announced = new ArrayList<>();
        IpCommand addresses = new IpCommand(lb);

        try (VipManager vips = new VipManager(addresses, (iface, address) -> announced.add(iface + " " + address),
                null)) {
            assertThat(vips.claim(List.of(vip))).isEmpty();
            vips.announce();

            assertThat(addresses.holds(vip)).isTrue();
            assertThat(TestNetwork.run("ip", "-n", lb, "-4", "-o", "addr", "show", "dev", lbSide))
                    .contains(network.subnet + "100/24").contains(lbSide + ":baton");
            assertThat(TestNetwork.succeeds("ip", "netns", "exec", client, "ping", "-c", "1", "-W", "2",
                    network.subnet + "100")).isTrue();
            assertThat(announced).contains(lbSide + " " + network.subnet + "100");

            vips.releaseAll();

            assertThat(addresses.holds(vip)).isFalse();
            assertThat(TestNetwork.succeeds("ip", "netns", "exec", client, "ping", "-c", "1", "-W", "1",
                    network.subnet + "100")).isFalse();
        }
    }

    @Test
    void aDrainedVipIsServedToWhoStillSendsHereButNoLongerAnsweredForByArp() throws Exception {
        Link link = link();
        String lb = link.lb();
        String client = link.client();
        String lbSide = link.lbSide();
        String clientSide = link.clientSide();
        String address = network.subnet + "100";
        VipConfig vip = new VipConfig("front", address, 24, lbSide);
        IpCommand addresses = new IpCommand(lb);
        String arpIgnore = "/proc/sys/net/ipv4/conf/" + lbSide + "/arp_ignore";
        String ignoreBefore = TestNetwork.run("ip", "netns", "exec", lb, "cat", arpIgnore).strip();

        try (VipManager vips = new VipManager(addresses, (iface, at) -> { }, null)) {
            vips.claim(List.of(vip));
            assertThat(TestNetwork.succeeds("ip", "netns", "exec", client, "ping", "-c", "1", "-W", "2", address))
                    .isTrue();

            vips.drain();

            assertThat(addresses.holds(vip)).isFalse();
            assertThat(vips.held()).isEmpty();
            assertThat(TestNetwork.run("ip", "-n", lb, "-4", "-o", "addr", "show", "dev", "lo")).contains(address + "/32");
            assertThat(TestNetwork.run("ip", "netns", "exec", lb, "cat", arpIgnore).strip()).isEqualTo("1");
            // a client whose neighbour entry still points here is served ...
            String lbMac = network.mac(lb, lbSide);
            TestNetwork.run("ip", "-n", client, "neigh", "replace", address, "lladdr", lbMac, "dev", clientSide,
                    "nud", "permanent");
            assertThat(TestNetwork.succeeds("ip", "netns", "exec", client, "ping", "-c", "1", "-W", "2", address))
                    .isTrue();
            // ... and one that asks ARP gets no answer from here: a peer may claim the VIP
            TestNetwork.run("ip", "-n", client, "neigh", "del", address, "dev", clientSide);
            assertThat(TestNetwork.succeeds("ip", "netns", "exec", client, "ping", "-c", "1", "-W", "1", address))
                    .isFalse();

            vips.releaseAll();

            assertThat(TestNetwork.run("ip", "-n", lb, "-4", "-o", "addr", "show", "dev", "lo")).doesNotContain(address);
            assertThat(TestNetwork.run("ip", "netns", "exec", lb, "cat", arpIgnore).strip()).isEqualTo(ignoreBefore);
            TestNetwork.run("ip", "-n", client, "neigh", "replace", address, "lladdr", lbMac, "dev", clientSide,
                    "nud", "permanent");
            assertThat(TestNetwork.succeeds("ip", "netns", "exec", client, "ping", "-c", "1", "-W", "1", address))
                    .isFalse();
        }
    }

    @Test
    void aDrainedVipIsTakenBackByAClaim() throws Exception {
        Link link = link();
        String lb = link.lb();
        String client = link.client();
        String lbSide = link.lbSide();
        String address = network.subnet + "100";
        VipConfig vip = new VipConfig("front", address, 24, lbSide);
        IpCommand addresses = new IpCommand(lb);

        try (VipManager vips = new VipManager(addresses, (iface, at) -> { }, null)) {
            vips.claim(List.of(vip));
            vips.drain();
            assertThat(vips.claim(List.of(vip))).isEmpty();

            assertThat(addresses.holds(vip)).isTrue();
            assertThat(vips.drained()).isEmpty();
            assertThat(TestNetwork.run("ip", "-n", lb, "-4", "-o", "addr", "show", "dev", "lo")).doesNotContain(address);
            assertThat(TestNetwork.succeeds("ip", "netns", "exec", client, "ping", "-c", "1", "-W", "2", address))
                    .isTrue();
        }
    }

    @Test
    void leftOverVipsAreRemovedAtStart() throws Exception {
        String lb = network.namespace("l");
        String client = network.namespace("c");
        String lbSide = "v" + network.id + "l";
        network.veth(lbSide, lb, "v" + network.id + "c", client);
        VipConfig vip = new VipConfig("front", network.subnet + "100", 24, lbSide);
        IpCommand addresses = new IpCommand(lb);
        addresses.add(vip);

        try (VipManager vips = new VipManager(addresses, (iface, address) -> { }, null)) {
            vips.removeLeftovers(List.of(vip));
        }

        assertThat(addresses.holds(vip)).isFalse();
    }

    @Test
    void gratuitousArpRewritesTheClientsNeighbourEntry() throws Exception {
        String client = network.namespace("c");
        String hostSide = "bt" + network.id + "h";
        String clientSide = "v" + network.id + "c";
        network.veth(hostSide, null, clientSide, client);
        network.address(client, clientSide, network.subnet + "2/24");
        String vip = network.subnet + "100";
        TestNetwork.run("ip", "-n", client, "neigh", "add", vip, "lladdr", "02:00:00:00:00:99", "dev", clientSide,
                "nud", "stale");
        IpCommand addresses = new IpCommand();
        String hostMac = addresses.mac(hostSide);

        new RawSocketArp(addresses).announce(hostSide, vip);

        await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(TestNetwork.run("ip", "-n", client, "neigh", "show", vip, "dev", clientSide))
                        .contains("lladdr " + hostMac));
    }

    @Test
    void anArpProbeFindsTheHostThatStillAnswersForAnAddress() throws Exception {
        String client = network.namespace("c");
        String hostSide = "bt" + network.id + "h";
        String clientSide = "v" + network.id + "c";
        network.veth(hostSide, null, clientSide, client);
        network.address(client, clientSide, network.subnet + "2/24");
        RawSocketArp arp = new RawSocketArp(new IpCommand());

        assertThat(arp.answeredElsewhere(hostSide, network.subnet + "2", Duration.ofMillis(500)))
                .isEqualTo(network.mac(client, clientSide));
        assertThat(arp.answeredElsewhere(hostSide, network.subnet + "77", Duration.ofMillis(200))).isNull();
        assertThat(arp.answerers(hostSide, network.subnet + "2", Duration.ofMillis(500)))
                .containsExactly(network.mac(client, clientSide));
        assertThat(arp.answerers(hostSide, network.subnet + "77", Duration.ofMillis(200))).isEmpty();
    }
}
