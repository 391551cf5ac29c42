package io.baton.cluster.wire;

import io.baton.cluster.DaemonThreads;
import org.jgroups.Address;
import org.jgroups.Event;
import org.jgroups.PhysicalAddress;
import org.jgroups.blocks.cs.Connection;
import org.jgroups.protocols.TCP;
import org.jgroups.stack.IpAddress;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * JGroups' TCP transport on {@link GuardedSocketFactory}'s sockets, which also does the one job
 * FD_SOCK2 did (FD_SOCK2 opens a port of its own, in clear, that no TLS can cover): seeing a
 * killed process at once. When a member's connection closes, its cluster port is tried: a port
 * that refuses means the process is gone, and the member is suspected (VERIFY_SUSPECT2 above
 * confirms it). A port that still answers means the connection closed for another reason (JGroups
 * replaces one of two simultaneous connections, say) and nothing happens; a host that does not
 * answer at all is FD_ALL3's to find. Only configured addresses are ever tried.
 */
public final class ClusterTransport extends TCP {

    /** A refused connect on a LAN comes back in well under a millisecond; a frozen host is FD_ALL3's. */
    static final int PROBE_TIMEOUT_MS = 100;
    /**
     * A killed process's connections and its listening socket close in the same exit, a few
     * milliseconds apart; a probe that lands in between still connects, so it is tried again after
     * these pauses (doubling: the exit is seen within twice its length, up to 127 ms) before the
     * member counts as alive. Measured with one fixed 20 ms pause: kill -9 took 60 ms longer.
     */
    static final long[] PROBE_RETRIES_MS = {1, 2, 4, 8, 16, 32, 64};

    private final ExecutorService probes = new ThreadPoolExecutor(0, 1, 10, TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(64), new DaemonThreads("baton-cluster-exit-probe"),
            new ThreadPoolExecutor.DiscardPolicy());

    @Override
    public void start() throws Exception {
        super.start();
        if (getSocketFactory() instanceof GuardedSocketFactory sockets) {
            sockets.whenConnectedLate(this::connectMade);
        }
    }

    /** Takes a connection the dialer made after its sender stopped waiting (see {@link Dialer}). */
    private void connectMade(InetSocketAddress target) {
        try {
            srv.getConnection(new IpAddress(target));
        } catch (Exception e) {
            log.trace("%s: taking the connection made to %s: %s", local_addr, target, e);
        }
    }

    @Override
    public void connectionClosed(Connection connection) {
        Address physical = connection.peerAddress();
        if (!(physical instanceof IpAddress peer) || logical_addr_cache == null) {
            return;
        }
        Address member = logical_addr_cache.getByValue((PhysicalAddress) physical);
        if (member == null || !members.contains(member) || member.equals(local_addr)) {
            return;
        }
        probes.execute(() -> {
            if (exited(peer) && members.contains(member)) {
                log.debug("%s: the connection to %s closed and its port %s refuses: suspecting it", local_addr,
                        member, peer);
                up_prot.up(new Event(Event.SUSPECT, List.of(member)));
            }
        });
    }

    /** True when the peer's cluster port refuses a connection, now or after one of the retry pauses. */
    private boolean exited(IpAddress peer) {
        if (refuses(peer)) {
            return true;
        }
        for (long pause : PROBE_RETRIES_MS) {
            try {
                Thread.sleep(pause);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
            if (refuses(peer)) {
                return true;
            }
        }
        return false;
    }

    private boolean refuses(IpAddress peer) {
        try (Socket probe = new Socket()) {
            if (bind_addr != null) {
                probe.bind(new InetSocketAddress(bind_addr, 0));
            }
            probe.connect(new InetSocketAddress(peer.getIpAddress(), peer.getPort()), PROBE_TIMEOUT_MS);
            probe.setSoLinger(true, 0);
            return false;
        } catch (ConnectException e) {
            return true;
        } catch (IOException e) {
            return false; // a timeout: the host may be frozen, which FD_ALL3 sees
        }
    }

    @Override
    public void destroy() {
        probes.shutdownNow();
        super.destroy();
    }
}
