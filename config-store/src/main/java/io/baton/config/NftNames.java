package io.baton.config;

/**
 * The names a config's kernel-mode services get in nftables, in one place: the data plane writes
 * them, the status reads their counters, and validation refuses two that would be the same (nft
 * names allow letters, digits and underscores only, so other characters become underscores).
 */
public final class NftNames {

    private NftNames() {
    }

    /** The named counter of one real server of a kernel-mode service. */
    public static String counter(String service, String server) {
        return (service + "__" + server).replaceAll("[^A-Za-z0-9_]", "_");
    }

    /** The netdev ingress chain of one VIP interface (l4-dr). */
    public static String ingressChain(String iface) {
        return "ingress_" + iface.replaceAll("[^A-Za-z0-9_]", "_");
    }
}
