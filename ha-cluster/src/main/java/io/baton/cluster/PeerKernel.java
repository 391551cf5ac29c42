package io.baton.cluster;

import io.baton.host.TcpDiag.Connection;

import java.net.InetSocketAddress;
import java.util.List;

/**
 * What a peer's host says, below its process, from this node's TCP connections to it: a kernel
 * acknowledges the segments it receives whether or not its process runs. A peer whose heartbeats
 * stopped while its kernel still acknowledges this node's is stalled (starved by the scheduler,
 * paused, stopped), not gone; a peer whose kernel stopped acknowledging too is down, or cut off.
 * Pure: {@link StallGuard} reads the connections.
 */
public enum PeerKernel {
    /** Every connection to the peer that carried data lately had it acknowledged lately. */
    ANSWERING,
    /** A connection to the peer has segments in flight that its kernel has not acknowledged lately. */
    SILENT,
    /** No connection to the peer carried data lately (or they could not be read): nothing to go by. */
    UNKNOWN;

    /**
     * How recent an acknowledgement must be to count as the peer's kernel answering: heartbeats go
     * out every 30 ms and a kernel delays an acknowledgement 40 ms at most as a rule, so a live one
     * has acknowledged within about 70 ms; a peer suspected after 150 ms of silence that is down has
     * acknowledged nothing for at least that long.
     */
    public static final long FRESH_ACK_MILLIS = 100;

    /**
     * Judges the connections between {@code self} and {@code peer} (their cluster addresses) among
     * {@code connections}: those this node dialed to the peer's cluster port, and, when the peer has
     * an address of its own, those it dialed to this node's.
     */
    public static PeerKernel judge(List<Connection> connections, InetSocketAddress self, InetSocketAddress peer) {
        boolean answering = false;
        boolean ownAddress = !peer.getAddress().equals(self.getAddress());
        for (Connection connection : connections) {
            InetSocketAddress remote = connection.remote();
            if (!remote.getAddress().equals(peer.getAddress())) {
                continue;
            }
            boolean dialed = remote.getPort() == peer.getPort();
            boolean accepted = ownAddress && connection.local().getPort() == self.getPort();
            if (!dialed && !accepted) {
                continue;
            }
            if (connection.lastAckReceivedMillis() < FRESH_ACK_MILLIS) {
                answering = true;
            } else if (connection.unackedSegments() > 0) {
                return SILENT;
            }
            // else: all it carried was acknowledged long ago and nothing since: idle, says nothing
        }
        return answering ? ANSWERING : UNKNOWN;
    }
}
