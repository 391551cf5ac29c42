package io.baton.cluster;

/**
 * What a member tells the cluster about itself.
 *
 * @param ready          running, with its data plane able to take the active role
 * @param configRevision the config revision it runs
 * @param holding        it holds the VIPs now: a new active waits until no other member does
 * @param unready        when not ready, why, as the end of a sentence about the node ("is stopping");
 *                       null when ready
 */
public record MemberInfo(String nodeId, int priority, long configRevision, boolean ready, boolean holding,
                         String unready) {

    public MemberInfo {
        if (ready) {
            unready = null;
        } else if (unready == null || unready.isBlank()) {
            unready = "is not ready";
        }
    }

    public MemberInfo(String nodeId, int priority, long configRevision, boolean ready, boolean holding) {
        this(nodeId, priority, configRevision, ready, holding, null);
    }

    /** A member that does not hold the VIPs. */
    public MemberInfo(String nodeId, int priority, long configRevision, boolean ready) {
        this(nodeId, priority, configRevision, ready, false);
    }
}
