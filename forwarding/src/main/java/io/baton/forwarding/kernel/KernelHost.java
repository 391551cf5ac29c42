package io.baton.forwarding.kernel;

import java.io.IOException;
import java.util.Map;

/** What the kernel data plane needs from the host it runs on. */
public interface KernelHost {

    /** Replaces Baton's nftables tables with {@code script}, in one transaction ({@code nft -f -}). */
    void nft(String script) throws IOException;

    /** The named counters of Baton's tables: name → {packets, bytes}. */
    Map<String, long[]> counters() throws IOException;

    /** This host's MAC on {@code iface}. */
    String ownMac(String iface) throws IOException;

    /** The MAC that answers ARP for {@code address} on {@code iface}; null when no host answers. */
    String neighbourMac(String iface, String address) throws IOException;

    /** Turns on IPv4 forwarding (the NAT modes route between clients and real servers). */
    void enableForwarding() throws IOException;
}
