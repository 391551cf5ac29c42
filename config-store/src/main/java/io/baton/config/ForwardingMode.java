package io.baton.config;

/** How a virtual service moves packets to its real servers. */
public enum ForwardingMode implements ConfigName {
    /** Kernel: rewrite the destination MAC; real servers answer the client directly. */
    L4_DR("l4-dr"),
    /** Kernel: destination NAT; real servers route back through the load balancer. */
    L4_NAT("l4-nat"),
    /** Kernel: destination and source NAT; real servers need no change. */
    L4_SNAT("l4-snat"),
    /** User space: a full proxy (TCP or HTTP). */
    L7_SNAT("l7-snat");

    private final String configName;

    ForwardingMode(String configName) {
        this.configName = configName;
    }

    @Override
    public String configName() {
        return configName;
    }

    public boolean isKernel() {
        return this != L7_SNAT;
    }
}
