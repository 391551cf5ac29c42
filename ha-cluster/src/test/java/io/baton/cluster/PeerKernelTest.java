package io.baton.cluster;

import io.baton.host.TcpDiag.Connection;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Judging a peer's host from this node's connections to it, without a network. */
class PeerKernelTest {

    private static final InetSocketAddress SELF = new InetSocketAddress("10.0.0.11", 7800);
    private static final InetSocketAddress PEER = new InetSocketAddress("10.0.0.12", 7800);
    private static final InetSocketAddress OTHER = new InetSocketAddress("10.0.0.13", 7800);

    /** A connection this node dialed to {@code to}'s cluster port. */
    private static Connection dialed(InetSocketAddress to, int unacked, long lastSent, long lastAck) {
        return new Connection(new InetSocketAddress(SELF.getAddress(), 40001), to, unacked, lastSent, lastAck);
    }

    /** A connection {@code from}'s host dialed to this node's cluster port. */
    private static Connection accepted(InetSocketAddress from, int unacked, long lastSent, long lastAck) {
        return new Connection(SELF, new InetSocketAddress(from.getAddress(), 51234), unacked, lastSent, lastAck);
    }

    @Test
    void aPeerWhoseKernelAcknowledgedLatelyIsAnswering() {
        assertThat(PeerKernel.judge(List.of(dialed(PEER, 1, 10, 40)), SELF, PEER)).isEqualTo(PeerKernel.ANSWERING);
        assertThat(PeerKernel.judge(List.of(accepted(PEER, 0, 5, 5)), SELF, PEER)).isEqualTo(PeerKernel.ANSWERING);
    }

    @Test
    void segmentsInFlightThatNobodyAcknowledgedMeanTheHostIsSilent() {
        // heartbeats went out every 30 ms; nothing acknowledged for 180 ms: down, or the link cut
        assertThat(PeerKernel.judge(List.of(dialed(PEER, 6, 20, 180)), SELF, PEER)).isEqualTo(PeerKernel.SILENT);
        // one silent connection is enough, whatever another says
        assertThat(PeerKernel.judge(List.of(accepted(PEER, 0, 5, 5), dialed(PEER, 3, 20, 400)), SELF, PEER))
                .isEqualTo(PeerKernel.SILENT);
        assertThat(PeerKernel.judge(List.of(dialed(PEER, 3, 20, 400), accepted(PEER, 0, 5, 5)), SELF, PEER))
                .isEqualTo(PeerKernel.SILENT);
    }

    @Test
    void anIdleConnectionOrNoneSaysNothing() {
        // everything it carried was acknowledged long ago, and nothing was sent since
        assertThat(PeerKernel.judge(List.of(dialed(PEER, 0, 900, 900)), SELF, PEER)).isEqualTo(PeerKernel.UNKNOWN);
        assertThat(PeerKernel.judge(List.of(), SELF, PEER)).isEqualTo(PeerKernel.UNKNOWN);
    }

    @Test
    void connectionsToOtherHostsOrOtherPortsAreNotThePeers() {
        List<Connection> others = List.of(dialed(OTHER, 0, 5, 5), accepted(OTHER, 0, 5, 5),
                dialed(new InetSocketAddress(PEER.getAddress(), 8080), 0, 5, 5),
                new Connection(new InetSocketAddress(SELF.getAddress(), 40002),
                        new InetSocketAddress(PEER.getAddress(), 51000), 0, 5, 5));
        assertThat(PeerKernel.judge(others, SELF, PEER)).isEqualTo(PeerKernel.UNKNOWN);
        assertThat(PeerKernel.judge(List.of(dialed(OTHER, 4, 10, 500)), SELF, PEER)).isEqualTo(PeerKernel.UNKNOWN);
    }

    @Test
    void onOneAddressOnlyTheConnectionsThisNodeDialedToThePeersPortCount() {
        // nodes of a test share 127.0.0.1: a connection to this node's port may come from any of them
        InetSocketAddress self = new InetSocketAddress("127.0.0.1", 7800);
        InetSocketAddress peer = new InetSocketAddress("127.0.0.1", 7801);
        Connection fromSomeone = new Connection(self, new InetSocketAddress("127.0.0.1", 45000), 0, 5, 5);
        Connection toPeer = new Connection(new InetSocketAddress("127.0.0.1", 45001), peer, 5, 10, 300);
        Connection peersOwnEnd = new Connection(peer, new InetSocketAddress("127.0.0.1", 45001), 0, 5, 5);

        assertThat(PeerKernel.judge(List.of(fromSomeone), self, peer)).isEqualTo(PeerKernel.UNKNOWN);
        assertThat(PeerKernel.judge(List.of(peersOwnEnd), self, peer)).isEqualTo(PeerKernel.UNKNOWN);
        assertThat(PeerKernel.judge(List.of(fromSomeone, peersOwnEnd, toPeer), self, peer)).isEqualTo(PeerKernel.SILENT);
    }
}
