package io.baton.forwarding.scheduler;

import io.baton.forwarding.Backend;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The server with the fewest active connections ({@code lc}), or the fewest per unit of weight
 * ({@code wlc}). Ties rotate, so that idle servers share new connections evenly.
 */
final class LeastConnections implements Scheduler {

    private final boolean weighted;
    private final AtomicInteger start = new AtomicInteger();

    LeastConnections(boolean weighted) {
        this.weighted = weighted;
    }

    @Override
    public Backend pick(List<Backend> candidates, int clientHash) {
        int size = candidates.size();
        int offset = Math.floorMod(start.getAndIncrement(), size);
        Backend best = null;
        for (int i = 0; i < size; i++) {
            Backend backend = candidates.get((offset + i) % size);
            if (best == null || fewer(backend, best)) {
                best = backend;
            }
        }
        return best;
    }

    private boolean fewer(Backend a, Backend b) {
        if (!weighted) {
            return a.activeConnections() < b.activeConnections();
        }
        // a.active / a.weight < b.active / b.weight, without division; weights are > 0 here
        return (long) a.activeConnections() * b.weight() < (long) b.activeConnections() * a.weight();
    }
}
