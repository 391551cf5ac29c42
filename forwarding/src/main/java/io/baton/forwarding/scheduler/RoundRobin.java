package io.baton.forwarding.scheduler;

import io.baton.forwarding.Backend;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/** Each candidate in turn, ignoring weights. */
final class RoundRobin implements Scheduler {

    private final AtomicInteger next = new AtomicInteger();

    @Override
    public Backend pick(List<Backend> candidates, int clientHash) {
        return candidates.get(Math.floorMod(next.getAndIncrement(), candidates.size()));
    }
}
