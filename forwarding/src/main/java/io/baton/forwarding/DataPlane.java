package io.baton.forwarding;

import java.util.List;

/** Something that forwards traffic only on the active node: the L7 proxy, the kernel data plane. */
@FunctionalInterface
public interface DataPlane {

    /** Starts (or stops) forwarding; returns the problems, one line each. */
    List<String> setActive(boolean active);
}
