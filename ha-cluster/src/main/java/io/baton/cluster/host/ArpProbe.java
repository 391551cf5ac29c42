package io.baton.cluster.host;

import java.io.IOException;
import java.time.Duration;

/** Asks the LAN whether another host still answers for an address (duplicate address detection). */
public interface ArpProbe {

    /** The MAC of another host that answered an ARP request for {@code address} within {@code wait}, or null. */
    String answeredElsewhere(String iface, String address, Duration wait) throws IOException;
}
