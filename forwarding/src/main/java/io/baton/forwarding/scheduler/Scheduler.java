package io.baton.forwarding.scheduler;

import io.baton.config.SchedulerKind;
import io.baton.forwarding.Backend;

import java.util.List;

/** Picks the real server for a new connection among the servers that may take one. */
public interface Scheduler {

    /**
     * @param candidates servers that accept new connections, in configuration order; never empty
     * @param clientHash a stable hash of the client address (used by {@code maglev})
     */
    Backend pick(List<Backend> candidates, int clientHash);

    /** Told how many servers the service has configured, whatever their health. */
    default void configure(int configuredServers) {
    }

    static Scheduler create(SchedulerKind kind) {
        return switch (kind) {
            case RR -> new RoundRobin();
            case WRR -> new WeightedRoundRobin();
            case LC -> new LeastConnections(false);
            case WLC -> new LeastConnections(true);
            case MAGLEV -> new MaglevScheduler();
        };
    }
}
