package io.baton.host;

import io.baton.config.VipConfig;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Claims and releases the floating addresses. A claim adds each VIP; the caller then announces it
 * with a burst of gratuitous ARP (request and reply forms) once its services listen; the burst is
 * repeated a few seconds later for devices that missed it, and optionally every refresh period
 * (like keepalived's garp_master_refresh).
 *
 * <p>A planned hand-over drains instead of releasing ({@link #drain}): each VIP moves to {@code lo}
 * as a /32 and its interface answers ARP only for its own addresses, so the peer can claim the VIP
 * at once while the clients whose neighbour entries still point here are served here, until
 * {@link #releaseAll}.
 */
public final class VipManager implements AutoCloseable {

    /** Gratuitous ARP rounds per burst, and the gap between them. */
    static final int BURST_ROUNDS = 3;
    static final long BURST_GAP_MILLIS = 50;
    /** The second burst, for switches and hosts that missed the first. */
    static final Duration SECOND_BURST = Duration.ofSeconds(3);

    private static final Logger LOG = LogManager.getLogger(VipManager.class);

    private final AddressManager addresses;
    private final ArpAnnouncer arp;
    private final Duration refresh;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(runnable -> {
        Thread thread = new Thread(runnable, "baton-vip");
        thread.setDaemon(true);
        return thread;
    });
    private final Map<String, VipConfig> held = new LinkedHashMap<>();
    /** VIPs moved to lo by {@link #drain}, by name: the copy on lo. */
    private final Map<String, VipConfig> drained = new LinkedHashMap<>();
    /** The interfaces whose ARP settings {@link #drain} changed. */
    private final java.util.Set<String> quietened = new java.util.TreeSet<>();
    static final String LOOPBACK = "lo";
    private ScheduledFuture<?> refreshing;
    private VipGuard guard;

    /** Keeps a {@link VipGuard} told of every VIP held, so a killed node's VIPs are removed. */
    public synchronized void guardWith(VipGuard newGuard) {
        this.guard = newGuard;
        guardAll();
    }

    /**
     * Whether the guard removed the held VIPs while this JVM was stopped (see {@link VipGuard#fenced}).
     */
    public synchronized boolean fenced() {
        return guard != null && !held.isEmpty() && guard.fenced();
    }

    /** @param refresh period of re-announcement while held; null for none */
    public VipManager(AddressManager addresses, ArpAnnouncer arp, Duration refresh) {
        this.addresses = addresses;
        this.arp = arp;
        this.refresh = refresh;
    }

    /**
     * Removes these VIPs if this host still has them (left over from an earlier run). The removal
     * is asked for even when the address is absent (a no-op): the path a takeover takes is then
     * loaded and ready.
     */
    public synchronized void removeLeftovers(List<VipConfig> vips) {
        for (VipConfig vip : vips) {
            try {
                boolean leftOver = addresses.holds(vip);
                addresses.remove(vip);
                if (leftOver) {
                    LOG.warn("removed VIP {} on {} left over from an earlier run", vip.cidr(), vip.iface());
                }
            } catch (IOException e) {
                LOG.error("cannot check or remove left-over VIP {} on {}: {}", vip.cidr(), vip.iface(), e.getMessage());
            }
        }
    }

    /**
     * Adds the VIPs (call {@link #announce()} once the services listen on them), and schedules the
     * second burst and the refresh. Returns the VIPs that could not be added, one line each.
     */
    public synchronized List<String> claim(List<VipConfig> vips) {
        List<String> problems = new ArrayList<>();
        for (VipConfig vip : vips) {
            try {
                held.put(vip.name(), vip);
                guardAll(); // before adding: a crash in between leaves nothing
                addresses.add(vip);
                VipConfig onLoopback = drained.remove(vip.name());
                if (onLoopback != null) {
                    addresses.remove(onLoopback);
                    guardAll();
                }
                LOG.info("VIP {} claimed on {}", vip.cidr(), vip.iface());
            } catch (IOException e) {
                held.remove(vip.name());
                problems.add("VIP " + vip.name() + " " + vip.cidr() + " on " + vip.iface() + ": " + e.getMessage());
                LOG.error("cannot claim VIP {} on {}: {}", vip.cidr(), vip.iface(), e.getMessage());
            }
        }
        timer.schedule(this::announce, SECOND_BURST.toMillis(), TimeUnit.MILLISECONDS);
        if (refresh != null && refreshing == null) {
            refreshing = timer.scheduleAtFixedRate(this::announce, refresh.toMillis(), refresh.toMillis(),
                    TimeUnit.MILLISECONDS);
        }
        restoreArp();
        return problems;
    }

    /**
     * Hands the held VIPs over without a gap: each moves to {@code lo} (this node still accepts what
     * is sent to it) and its interface stops answering ARP for it, so that a peer may claim it now.
     * A VIP that cannot be moved is released. {@link #releaseAll} ends the drain; {@link #claim} takes
     * the VIPs back.
     */
    public synchronized void drain() {
        if (refreshing != null) {
            refreshing.cancel(false);
            refreshing = null;
        }
        for (VipConfig vip : List.copyOf(held.values())) {
            VipConfig onLoopback = new VipConfig(vip.name(), vip.address(), 32, LOOPBACK);
            try {
                if (quietened.add(vip.iface())) {
                    addresses.arpForOwnAddressesOnly(vip.iface(), true);
                }
                drained.put(vip.name(), onLoopback);
                guardAll(); // before adding: a crash in between leaves nothing
                addresses.add(onLoopback);
                addresses.remove(vip);
                held.remove(vip.name());
                LOG.info("VIP {} drained from {}: answered by a peer from now on, served here until released",
                        vip.cidr(), vip.iface());
            } catch (IOException e) {
                LOG.error("cannot drain VIP {} from {} ({}): releasing it", vip.cidr(), vip.iface(), e.getMessage());
                remove(vip);
                held.remove(vip.name());
            }
        }
        guardAll();
    }

    /** Removes every held and drained VIP (before another node may claim them, or once it has). */
    public synchronized void releaseAll() {
        if (refreshing != null) {
            refreshing.cancel(false);
            refreshing = null;
        }
        for (VipConfig vip : List.copyOf(held.values())) {
            if (remove(vip)) {
                LOG.info("VIP {} released from {}", vip.cidr(), vip.iface());
            }
            held.remove(vip.name());
        }
        for (VipConfig vip : List.copyOf(drained.values())) {
            if (remove(vip)) {
                LOG.info("drained VIP {} released", vip.address());
            }
            drained.remove(vip.name());
        }
        guardAll();
        restoreArp();
    }

    private boolean remove(VipConfig vip) {
        try {
            addresses.remove(vip);
            return true;
        } catch (IOException e) {
            LOG.error("cannot release VIP {} from {}: {}", vip.cidr(), vip.iface(), e.getMessage());
            return false;
        }
    }

    /** Puts back the ARP settings a drain changed, once no VIP is drained. */
    private void restoreArp() {
        if (!drained.isEmpty()) {
            return;
        }
        for (String iface : List.copyOf(quietened)) {
            try {
                addresses.arpForOwnAddressesOnly(iface, false);
            } catch (IOException e) {
                LOG.error("cannot restore the ARP settings of {}: {}", iface, e.getMessage());
            }
            quietened.remove(iface);
        }
    }

    private void guardAll() {
        if (guard != null) {
            List<VipConfig> all = new ArrayList<>(held.values());
            all.addAll(drained.values());
            guard.held(all);
        }
    }

    /**
     * A burst of gratuitous ARP for every held VIP (after a takeover or a merge): the first round
     * now, the others {@link #BURST_GAP_MILLIS} apart on this manager's timer, so the caller is not
     * held up.
     */
    public void announce() {
        announceRound();
        for (int round = 1; round < BURST_ROUNDS; round++) {
            try {
                timer.schedule(this::announceRound, round * BURST_GAP_MILLIS, TimeUnit.MILLISECONDS);
            } catch (RejectedExecutionException closed) {
                return;
            }
        }
    }

    private void announceRound() {
        List<VipConfig> vips;
        synchronized (this) {
            vips = List.copyOf(held.values());
        }
        for (VipConfig vip : vips) {
            try {
                arp.announce(vip.iface(), vip.address());
            } catch (IOException e) {
                LOG.error("gratuitous ARP for {} on {} failed: {}", vip.address(), vip.iface(), e.getMessage());
            }
        }
    }

    public synchronized List<VipConfig> held() {
        return List.copyOf(held.values());
    }

    /** The VIPs served here while a peer answers for them (see {@link #drain}), as moved to lo. */
    public synchronized List<VipConfig> drained() {
        return List.copyOf(drained.values());
    }

    @Override
    public void close() {
        releaseAll();
        timer.shutdownNow();
        if (guard != null) {
            guard.close();
        }
    }
}
