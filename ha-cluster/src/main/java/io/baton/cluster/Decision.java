package io.baton.cluster;

/**
 * Who is active. Every change of the active node raises the epoch; a node acts only on the
 * highest epoch it has seen, so a stale decision can never win.
 *
 * @param active the active node's id; null when no member is eligible
 * @param reason why, in words for the log and the status ({@code lb1 left the cluster})
 */
public record Decision(String active, long epoch, String reason) {

    public static final Decision NONE = new Decision(null, 0, "no election yet");

    public boolean isActive(String nodeId) {
        return nodeId.equals(active);
    }
}
