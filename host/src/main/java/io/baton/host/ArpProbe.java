package io.baton.host;

import java.io.IOException;
import java.time.Duration;

/** Asks the LAN whether another host still answers for an address (duplicate address detection). */
public interface ArpProbe {

    /** The MAC of another host that answered an ARP request for {@code address} within {@code wait}, or null. */
    String answeredElsewhere(String iface, String address, Duration wait) throws IOException;

    /**
     * Every other host's MAC that answered an ARP request for {@code address} (a Baton peer and a
     * host in conflict may both answer): within {@code wait}, and a few milliseconds after the first.
     */
    java.util.Set<String> answerers(String iface, String address, Duration wait) throws IOException;
}
