package io.baton.appliance;

import io.baton.host.AddressManager;
import io.baton.host.ArpProbe;
import io.baton.host.Nftables;
import io.baton.host.Sysctl;
import io.baton.forwarding.kernel.KernelHost;

import java.io.IOException;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/** The kernel data plane's host, put together from the cluster's host package: nft, sysctls, addresses, ARP. */
final class LinuxKernelHost implements KernelHost {

    /** How long a real server has to answer an ARP question for its MAC. */
    private static final Duration ARP_WAIT = Duration.ofMillis(200);

    private final AddressManager addresses;
    private final ArpProbe arp;
    private final Nftables nftables = new Nftables();

    LinuxKernelHost(AddressManager addresses, ArpProbe arp) {
        this.addresses = addresses;
        this.arp = arp;
    }

    @Override
    public void nft(String script) throws IOException {
        nftables.apply(script);
    }

    @Override
    public Map<String, long[]> counters() throws IOException {
        Map<String, long[]> counters = new HashMap<>(nftables.counters("netdev", "baton"));
        counters.putAll(nftables.counters("ip", "baton"));
        return counters;
    }

    @Override
    public String ownMac(String iface) throws IOException {
        return addresses.mac(iface);
    }

    @Override
    public String neighbourMac(String iface, String address) throws IOException {
        return arp.answeredElsewhere(iface, address, ARP_WAIT);
    }

    @Override
    public void enableForwarding() throws IOException {
        Sysctl.enableIpv4Forwarding();
    }
}
