package io.baton.forwarding.scheduler;

import io.baton.forwarding.Backend;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Smooth weighted round robin (as nginx does it): over any window each server gets its weight's
 * share, and heavy servers are interleaved with light ones rather than served in bursts.
 */
final class WeightedRoundRobin implements Scheduler {

    private final Map<Backend, Long> current = new IdentityHashMap<>();

    @Override
    public synchronized Backend pick(List<Backend> candidates, int clientHash) {
        long totalWeight = 0;
        Backend best = null;
        long bestValue = Long.MIN_VALUE;
        for (Backend backend : candidates) {
            long weight = backend.weight();
            totalWeight += weight;
            long value = current.getOrDefault(backend, 0L) + weight;
            current.put(backend, value);
            if (value > bestValue) {
                best = backend;
                bestValue = value;
            }
        }
        current.put(best, bestValue - totalWeight);
        current.keySet().retainAll(new java.util.HashSet<>(candidates));
        return best;
    }
}
