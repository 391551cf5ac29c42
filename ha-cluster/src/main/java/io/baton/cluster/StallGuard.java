package io.baton.cluster;

import io.baton.host.TcpDiag;
import org.jgroups.Address;
import org.jgroups.Event;
import org.jgroups.annotations.Property;
import org.jgroups.stack.IpAddress;
import org.jgroups.stack.Protocol;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A JGroups protocol, just above VERIFY_SUSPECT2, that tells a stall from a death before a
 * confirmed suspicion removes a member. Failure detection is aggressive (a silence of 150 ms,
 * confirmed in 30 ms), and a JVM on a busy host is starved for that long now and then; two cases:
 * <ul>
 *   <li>This node itself was stalled during the time the evidence was gathered ({@link StallWatch}):
 *       it read its peers' heartbeats late, which says nothing of them. Every suspicion is held back
 *       (for a streak of at most {@link #MAX_HOLD_NANOS}).</li>
 *   <li>The peer's kernel still acknowledges this node's segments ({@link PeerKernel}, read from
 *       the kernel's {@link TcpDiag tcp_info}): its host is up and its process starved or paused.
 *       Suspicions of it are held back for up to {@code peer_stall_hold}; a peer that is still
 *       silent then is removed all the same (a stopped JVM serves nobody). A host that is down or
 *       cut off acknowledges nothing, and goes at once.</li>
 * </ul>
 * A suspicion held back costs nothing when it was wrong and, when it was right, one more round of
 * detection (FD_ALL3 raises it again every interval while the peer stays silent).
 */
public final class StallGuard extends Protocol {

    @Property(description = "how late (ms) the watcher's 10 ms tick must come to count as a stall of this JVM")
    private long stall_threshold = 50;

    @Property(description = "how far back (ms) a suspicion's evidence reaches: FD_ALL3's timeout plus"
            + " VERIFY_SUSPECT2's, with a margin")
    private long evidence_window = 250;

    @Property(description = "how long (ms) suspicions of a peer whose kernel still acknowledges this node's"
            + " segments are held back: a process starved or paused for less is no failure; 0 holds none")
    private long peer_stall_hold = 500;

    /**
     * How long a streak of held-back suspicions may last: a node starved again and again must not
     * keep a dead or cut-off peer in its view (and its VIPs with it) for as long as it is starved.
     */
    static final long MAX_HOLD_NANOS = 1_000_000_000L;

    private volatile StallWatch watch;
    /** nanoTime of the first and the last suspicion held back in the current streak; 0 when none. */
    private long streakSince;
    private long lastHeldBack;
    private volatile Thread watcher;
    private final AtomicLong heldBack = new AtomicLong();
    private volatile PeerHold<Address> peerHold;

    @Override
    public void start() throws Exception {
        super.start();
        watch = new StallWatch(stall_threshold * 1_000_000L, evidence_window * 1_000_000L, System.nanoTime());
        peerHold = new PeerHold<>(peer_stall_hold * 1_000_000L);
        Thread thread = new Thread(this::watch, "baton-stall-watch");
        thread.setDaemon(true);
        thread.setPriority(Thread.MAX_PRIORITY);
        watcher = thread;
        thread.start();
    }

    @Override
    public void stop() {
        Thread thread = watcher;
        if (thread != null) {
            thread.interrupt();
        }
        super.stop();
    }

    private void watch() {
        while (!Thread.currentThread().isInterrupted()) {
            LockSupport.parkNanos(StallWatch.TICK_NANOS);
            long stall = watch.tick(System.nanoTime());
            if (stall > 0) {
                log.debug("%s: this JVM did not run for %d ms", local_addr, stall / 1_000_000);
            }
        }
    }

    @Override
    public Object up(Event event) {
        StallWatch current = watch;
        if (event.getType() == Event.SUSPECT && current != null) {
            long now = System.nanoTime();
            String stalled = current.stalled(now);
            if (stalled != null && !streakTooLong(now)) {
                heldBack.incrementAndGet();
                log.warn("%s: not suspecting %s: %s, so its silence may be this node's own", local_addr,
                        event.getArg(), stalled);
                return null;
            }
            if (event.getArg() instanceof Collection<?> suspects) {
                List<Address> through = new ArrayList<>();
                for (Object suspect : suspects) {
                    if (suspect instanceof Address peer && !holdPeer(peer, now)) {
                        through.add(peer);
                    }
                }
                if (through.isEmpty()) {
                    return null;
                }
                if (through.size() < suspects.size()) {
                    return up_prot.up(new Event(Event.SUSPECT, through));
                }
            }
        }
        return up_prot.up(event);
    }

    /** Whether to hold back this suspicion of {@code peer} because its host still answers. */
    private boolean holdPeer(Address peer, long now) {
        PeerKernel kernel = peerKernel(peer);
        PeerHold.Verdict verdict = peerHold.suspected(peer, kernel, now);
        switch (verdict) {
            case HOLD_FIRST -> {
                heldBack.incrementAndGet();
                log.warn("%s: not suspecting %s yet: its host still acknowledges this node's packets, so its"
                        + " process is stalled, not gone; holding for up to %d ms", local_addr, peer, peer_stall_hold);
                return true;
            }
            case HOLD -> {
                heldBack.incrementAndGet();
                return true;
            }
            case THROUGH_AFTER_HOLD -> log.warn("%s: suspecting %s: its host answers, but its process has been"
                    + " silent for %d ms more", local_addr, peer, peer_stall_hold);
            case THROUGH_STILL -> { }
            case THROUGH -> log.debug("%s: %s's host: %s", local_addr, peer, kernel);
        }
        return false;
    }

    /** What {@code peer}'s kernel says, from this namespace's TCP connections to it. */
    private PeerKernel peerKernel(Address peer) {
        InetSocketAddress self = physical(local_addr);
        InetSocketAddress other = physical(peer);
        if (self == null || other == null) {
            return PeerKernel.UNKNOWN;
        }
        try {
            return PeerKernel.judge(TcpDiag.established(), self, other);
        } catch (Exception | LinkageError e) {
            // no answer from the kernel (or no JNA): nothing to go by, and the suspicion goes through
            log.warn("%s: cannot read the connections to %s: %s", local_addr, peer, e);
            return PeerKernel.UNKNOWN;
        }
    }

    private InetSocketAddress physical(Address address) {
        Object physical = address == null ? null : down_prot.down(new Event(Event.GET_PHYSICAL_ADDRESS, address));
        return physical instanceof IpAddress ip && ip.getIpAddress() != null
                ? new InetSocketAddress(ip.getIpAddress(), ip.getPort()) : null;
    }

    /** Whether this JVM was stalled within the last {@code window} (or is now), in a streak shorter than 1 s. */
    public boolean stalledWithin(java.time.Duration window) {
        StallWatch current = watch;
        long now = System.nanoTime();
        return current != null && current.stalledWithin(now, window.toNanos()) && !streakTooLong(now);
    }

    /** True when suspicions have been held back for longer than {@link #MAX_HOLD_NANOS} in a row. */
    private synchronized boolean streakTooLong(long now) {
        if (streakSince == 0 || now - lastHeldBack > MAX_HOLD_NANOS) {
            streakSince = now; // a new streak
        }
        lastHeldBack = now;
        return now - streakSince > MAX_HOLD_NANOS;
    }

    /** How many confirmed suspicions were held back since start. */
    public long heldBack() {
        return heldBack.get();
    }
}
