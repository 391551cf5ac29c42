package io.baton.cluster;

/**
 * Whether this node may hold the VIPs now. The election says who should be active; this adds the
 * quorum rule, for any number of nodes:
 *
 * <ul>
 *   <li>in a strict majority of the configured nodes, the active node holds the VIPs;</li>
 *   <li>in a strict minority it releases them at once, witness or not (the majority side takes over);</li>
 *   <li>in exactly half (a pair's survivor, 2 of 4) the witness breaks the tie: it holds while the
 *       witness answers. A pair without a witness cannot tell a dead peer from a cut link, so its
 *       lone survivor takes over (a cut link then makes two actives: configure a witness); larger
 *       even clusters without a witness hold nothing in a half.</li>
 * </ul>
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
        String seen = membersSeen + " of " + nodesConfigured + " nodes";
        if (membersSeen * 2 > nodesConfigured) {
            return new Verdict(true, "active with a majority (" + seen + ")");
        }
        if (membersSeen * 2 < nodesConfigured) {
            return new Verdict(false, "active in a minority (" + seen + "): not holding VIPs; the majority side"
                    + " takes over");
        }
        if (!witnessConfigured) {
            return nodesConfigured == 2
                    ? new Verdict(true, "active, seeing " + seen + " and no witness configured")
                    : new Verdict(false, "active in exactly half of the cluster (" + seen + ") and no witness to"
                            + " break the tie: not holding VIPs");
        }
        return witnessReachable
                ? new Verdict(true, "active in exactly half of the cluster (" + seen + "), the witness answers")
                : new Verdict(false, "active in exactly half of the cluster (" + seen + ") and the witness does"
                        + " not answer: not holding VIPs");
    }
}
