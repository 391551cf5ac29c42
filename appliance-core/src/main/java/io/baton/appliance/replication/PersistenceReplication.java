package io.baton.appliance.replication;

import io.baton.cluster.ClusterNode;
import io.baton.cluster.wire.ClusterCodec;
import io.baton.cluster.wire.ClusterMessage;
import io.baton.forwarding.PersistenceTable;
import io.netty.util.concurrent.DefaultThreadFactory;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * Keeps the peers' source-IP persistence tables in step with the active node's, so that a node
 * that takes over sends a pinned client (an HL7 interface, a modality) to the server it was on.
 * The request path only marks what changed; every {@link #INTERVAL} a timer thread sends the
 * changes in batches, and everything again when the members change (a node that joins knows
 * nothing). A lost batch is acceptable, a stalled request is not: nothing here waits on the
 * network while a client waits.
 */
public final class PersistenceReplication implements AutoCloseable {

    /** A takeover within this much of a client's first connection may still miss it: far below a human's retry. */
    static final Duration INTERVAL = Duration.ofMillis(250);
    /** Batches per interval: 20 000 pinned clients a second at most, far more than a hospital opens. */
    static final int BATCHES_PER_INTERVAL = 10;

    private static final Logger LOG = LogManager.getLogger(PersistenceReplication.class);

    private final PersistenceTable table;
    private final ClusterNode cluster;
    private final BooleanSupplier active;
    private final Clock clock;
    private final ScheduledExecutorService timer =
            Executors.newSingleThreadScheduledExecutor(new DefaultThreadFactory("baton-persistence-sync", true));
    private volatile List<String> lastMembers = List.of();

    /** @param active whether this node is the one that serves (and so records) clients now */
    public PersistenceReplication(PersistenceTable table, ClusterNode cluster, BooleanSupplier active, Clock clock) {
        this.table = table;
        this.cluster = cluster;
        this.active = active;
        this.clock = clock;
        cluster.subscribe((from, message) -> {
            if (message instanceof ClusterMessage.Pins batch) {
                received(batch.pins(), from);
            }
        });
        timer.scheduleWithFixedDelay(this::sendChanges, INTERVAL.toMillis(), INTERVAL.toMillis(),
                TimeUnit.MILLISECONDS);
    }

    private void sendChanges() {
        try {
            List<String> members = cluster.members();
            if (!members.equals(lastMembers)) {
                if (members.size() > lastMembers.size() || !lastMembers.containsAll(members)) {
                    table.markAllChanged();
                }
                lastMembers = members;
            }
            if (!active.getAsBoolean() || members.size() < 2) {
                table.drainChanges(Integer.MAX_VALUE); // a passive or lone node has nobody to tell
                return;
            }
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
            LOG.warn("cannot send pinned clients to the peers: {}", e.toString());
        }
    }

    private void received(List<ClusterMessage.Pin> pins, String from) {
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
