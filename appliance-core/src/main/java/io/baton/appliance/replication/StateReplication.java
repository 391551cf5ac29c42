package io.baton.appliance.replication;

import io.baton.cluster.ClusterNode;
import io.baton.cluster.DaemonThreads;
import io.baton.cluster.wire.ClusterCodec;
import io.baton.cluster.wire.ClusterMessage;
import io.baton.forwarding.PersistenceTable;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Keeps the peers' runtime state in step with the active node's, so that a node that takes over
 * starts where the active one was: the source-IP persistence table (a pinned HL7 interface or
 * modality goes to the server it was on) and the health verdicts of the real servers (a server
 * the active node found DOWN gets nothing from the new one, even before its own checks have
 * concluded). The request path only marks what changed; every {@link #INTERVAL} a timer thread
 * sends the changes in batches, and everything again when the members change (a node that joins
 * knows nothing). A lost batch is acceptable, a stalled request is not: nothing here waits on the
 * network while a client waits.
 */
public final class StateReplication implements AutoCloseable {

    /** A takeover within this much of a client's first connection may still miss it: far below a human's retry. */
    static final Duration INTERVAL = Duration.ofMillis(250);
    /** Batches per interval: 20 000 pinned clients a second at most, far more than a hospital opens. */
    static final int BATCHES_PER_INTERVAL = 10;

    private static final Logger LOG = LogManager.getLogger(StateReplication.class);

    private final PersistenceTable table;
    private final ClusterNode cluster;
    private final BooleanSupplier active;
    private final Supplier<List<ClusterMessage.Verdict>> verdicts;
    private final Clock clock;
    private final ScheduledExecutorService timer =
            Executors.newSingleThreadScheduledExecutor(new DaemonThreads("baton-state-sync"));
    private volatile List<String> lastMembers = List.of();
    private List<ClusterMessage.Verdict> lastVerdicts = List.of();

    /**
     * @param active   whether this node is the one that serves (and so records) clients now
     * @param verdicts this node's health verdicts (up or down; servers without one left out)
     * @param received takes the verdicts a peer sent, with the peer's id (on the cluster's event thread)
     */
    public StateReplication(PersistenceTable table, ClusterNode cluster, BooleanSupplier active,
                            Supplier<List<ClusterMessage.Verdict>> verdicts,
                            BiConsumer<List<ClusterMessage.Verdict>, String> received, Clock clock) {
        this.table = table;
        this.cluster = cluster;
        this.active = active;
        this.verdicts = verdicts;
        this.clock = clock;
        cluster.subscribe((from, message) -> {
            if (message instanceof ClusterMessage.Pins batch) {
                receivedPins(batch.pins(), from);
            } else if (message instanceof ClusterMessage.Verdicts batch) {
                // applying them may reprogram the kernel data plane: never on the cluster's thread
                timer.execute(() -> {
                    try {
                        received.accept(batch.verdicts(), from);
                    } catch (RuntimeException e) {
                        LOG.warn("health verdicts from {} not taken: {}", from, e.toString());
                    }
                });
            }
        });
        timer.scheduleWithFixedDelay(this::sendChanges, INTERVAL.toMillis(), INTERVAL.toMillis(),
                TimeUnit.MILLISECONDS);
    }

    private void sendChanges() {
        try {
            List<String> members = cluster.members();
            boolean joined = false;
            if (!members.equals(lastMembers)) {
                joined = members.size() > lastMembers.size() || !lastMembers.containsAll(members);
                if (joined) {
                    table.markAllChanged();
                }
                lastMembers = members;
            }
            if (!active.getAsBoolean() || members.size() < 2) {
                table.drainChanges(Integer.MAX_VALUE); // a passive or lone node has nobody to tell
                lastVerdicts = List.of();
                return;
            }
            sendVerdicts(joined);
            long now = clock.millis();
            for (int i = 0; i < BATCHES_PER_INTERVAL; i++) {
                List<PersistenceTable.Entry> changes = table.drainChanges(ClusterCodec.MAX_PINS);
                if (changes.isEmpty()) {
                    return;
                }
                cluster.broadcast(new ClusterMessage.Pins(changes.stream()
                        .map(entry -> new ClusterMessage.Pin(entry.service(), entry.client(), entry.server(),
                                Math.max(1, entry.expiresAt() - now)))
                        .toList()));
            }
        } catch (RuntimeException e) {
            LOG.warn("cannot send runtime state to the peers: {}", e.toString());
        }
    }

    /** All verdicts, whenever one changed or a member joined: a few hundred servers fit in one message. */
    private void sendVerdicts(boolean joined) {
        List<ClusterMessage.Verdict> now = verdicts.get();
        if (!joined && now.equals(lastVerdicts)) {
            return;
        }
        lastVerdicts = now;
        for (int from = 0; from < now.size(); from += ClusterCodec.MAX_PINS) {
            cluster.broadcast(new ClusterMessage.Verdicts(now.subList(from, Math.min(now.size(),
                    from + ClusterCodec.MAX_PINS))));
        }
    }

    private void receivedPins(List<ClusterMessage.Pin> pins, String from) {
        long now = clock.millis();
        for (ClusterMessage.Pin pin : pins) {
            table.merge(new PersistenceTable.Entry(pin.service(), pin.client(), pin.server(), now + pin.ttlMillis()));
        }
        LOG.debug("{} pinned client(s) from {}", pins.size(), from);
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
