package io.baton.cluster;

/**
 * What a member tells the cluster about itself.
 *
 * @param ready          running, with its data plane able to take the active role
 * @param configRevision the config revision it runs
 * @param holding        it holds the VIPs now: a new active waits until no other member does
 * @param macs           the MACs of its VIP interfaces: a host answering ARP for a VIP with one of these
 *                       is this Baton node, any other is an address conflict
 * @param unready        when not ready, why, as the end of a sentence about the node ("is stopping");
 *                       null when ready
 * @param serving        the interfaces (name → its MAC) of the VIPs whose connections this node
 *                       serves: those it holds, and after a hand-over those it no longer answers for
 *                       but still serves the connections it has (it {@link #drains}); the other
 *                       members send it those connections' packets there (see {@code DrainForwarding})
 */
public record MemberInfo(String nodeId, int priority, long configRevision, boolean ready, boolean holding,
                         String unready, java.util.List<String> macs, java.util.Map<String, String> serving) {

    /** What a node that stops on purpose says of itself, last. */
    public static final String STOPPING = "is stopping";

    /** The member said it is stopping: if it leaves now, it left on purpose. */
    public boolean stopping() {
        return STOPPING.equals(unready);
    }

    /** It handed the VIPs over and still serves the connections it has on them. */
    public boolean drains() {
        return !holding && !serving.isEmpty();
    }

    public MemberInfo {
        macs = macs == null ? java.util.List.of() : java.util.List.copyOf(macs);
        serving = serving == null ? java.util.Map.of() : java.util.Map.copyOf(serving);
        if (ready) {
            unready = null;
        } else if (unready == null || unready.isBlank()) {
            unready = "is not ready";
        }
    }

    /** A member that serves no VIP (a passive node, or one that has not said). */
    public MemberInfo(String nodeId, int priority, long configRevision, boolean ready, boolean holding,
                      String unready, java.util.List<String> macs) {
        this(nodeId, priority, configRevision, ready, holding, unready, macs, java.util.Map.of());
    }

    public MemberInfo(String nodeId, int priority, long configRevision, boolean ready, boolean holding) {
        this(nodeId, priority, configRevision, ready, holding, null);
    }

    /** A member that has not said which MACs its VIP interfaces have. */
    public MemberInfo(String nodeId, int priority, long configRevision, boolean ready, boolean holding,
                      String unready) {
        this(nodeId, priority, configRevision, ready, holding, unready, java.util.List.of());
    }

    /** A member that does not hold the VIPs. */
    public MemberInfo(String nodeId, int priority, long configRevision, boolean ready) {
        this(nodeId, priority, configRevision, ready, false);
    }
}
