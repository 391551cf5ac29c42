package io.baton.forwarding;

import java.util.List;

/** Something that forwards traffic only on the active node: the L7 proxy, the kernel data plane. */
@FunctionalInterface
public interface DataPlane {

    /** Starts (or stops) forwarding; returns the problems, one line each. */
    List<String> setActive(boolean active);

    /**
     * True when forwarding can start before the VIPs are added to the host. A node taking the
     * active role then starts forwarding first: from the moment a VIP is added the host answers
     * ARP for it, and a client sent here before a listener was bound would be refused.
     */
    default boolean startsBeforeTheVipsAreAdded() {
        return false;
    }

    /**
     * The VIPs are handed over ({@code true}): a peer answers for them, and what this node still
     * serves are the connections it has, which should end soon (HTTP keep-alive connections close
     * after their answer, as HAProxy's soft stop does); {@code false} when it holds them again.
     */
    default void handingOver(boolean handingOver) {
    }
}
