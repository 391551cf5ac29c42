package io.baton.host;

import java.io.IOException;

/** Tells the LAN that an address now lives at this host's MAC (gratuitous ARP). */
public interface ArpAnnouncer {

    /**
     * Sends gratuitous ARP for {@code address} from {@code iface}, in both forms: a request and a
     * reply (devices differ in which they accept).
     */
    void announce(String iface, String address) throws IOException;
}
