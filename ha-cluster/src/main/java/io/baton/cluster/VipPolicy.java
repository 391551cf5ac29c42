package io.baton.cluster;

/**
 * Whether this node may hold the VIPs now. The election says who should be active; this adds the
 * split-brain rule: outside a majority of the configured nodes, a node holds VIPs only while it
 * reaches the witness. A two-node cluster cannot tell a dead peer from a cut link, so without a
 * witness the lone survivor takes over (and a cut link makes two actives: configure a witness).
 */
public final class VipPolicy {

    /** The verdict and its reason, for the log and the status. */
    public record Verdict(boolean hold, String reason) {
    }

    private VipPolicy() {
    }

    public static Verdict decide(String self, Decision decision, int membersSeen, int nodesConfigured,
                                 boolean witnessConfigured, boolean witnessReachable) {
        if (!decision.isActive(self)) {
            return new Verdict(false, decision.active() == null ? "no node is active" : decision.active() + " is active");
        }
        if (membersSeen * 2 > nodesConfigured) {
            return new Verdict(true, "active with a majority (" + membersSeen + " of " + nodesConfigured + " nodes)");
        }
        if (!witnessConfigured) {
            return new Verdict(true, "active, seeing " + membersSeen + " of " + nodesConfigured
                    + " nodes and no witness configured");
        }
        return witnessReachable
                ? new Verdict(true, "active in a minority (" + membersSeen + " of " + nodesConfigured
                        + " nodes), the witness answers")
                : new Verdict(false, "active in a minority (" + membersSeen + " of " + nodesConfigured
                        + " nodes) and the witness does not answer: not holding VIPs");
    }
}
