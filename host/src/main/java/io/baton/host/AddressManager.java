package io.baton.host;

import io.baton.config.VipConfig;

import java.io.IOException;
import java.util.List;

/** Adds and removes floating addresses on this host's interfaces. */
public interface AddressManager {

    /** Adds the VIP (idempotent: an address already there is fine). */
    void add(VipConfig vip) throws IOException;

    /** Removes the VIP (idempotent: an address already gone is fine). */
    void remove(VipConfig vip) throws IOException;

    boolean holds(VipConfig vip) throws IOException;

    /** The interface's MAC address, e.g. {@code 02:42:ac:11:00:02}. */
    String mac(String iface) throws IOException;

    int ifindex(String iface) throws IOException;

    /** The names of this host's network interfaces, sorted. */
    List<String> interfaces() throws IOException;

    /**
     * Makes the interface answer ARP only for addresses configured on it ({@code arp_ignore=1},
     * {@code arp_announce=2}, as on a DR real server), or puts back the values it had before.
     * A VIP moved to {@code lo} is then served here but answered for elsewhere.
     */
    void arpForOwnAddressesOnly(String iface, boolean on) throws IOException;

    /** True while the interface is up with a carrier (its cable, or its veth peer, is there). */
    boolean linkUp(String iface) throws IOException;
}
