package io.baton.forwarding.scheduler;

import io.baton.forwarding.Backend;

import java.util.List;

/**
 * {@code maglev}: the client address picks a slot of a {@link MaglevTable} of the candidates. The
 * table is sized for every configured server, so that a server going down moves only its clients.
 */
final class MaglevScheduler implements Scheduler {

    /** The table and the candidate names and weights it was built for. */
    private record Built(List<String> names, List<Integer> weights, int size, MaglevTable table) {
    }

    private volatile Built built;
    private volatile int tableSize = MaglevTable.tableSize(1);

    @Override
    public void configure(int configuredServers) {
        tableSize = MaglevTable.tableSize(Math.max(1, configuredServers));
    }

    @Override
    public Backend pick(List<Backend> candidates, int clientHash) {
        List<String> names = candidates.stream().map(Backend::name).toList();
        List<Integer> weights = candidates.stream().map(Backend::weight).toList();
        Built current = built;
        int size = tableSize;
        if (current == null || current.size() != size || !current.names().equals(names)
                || !current.weights().equals(weights)) {
            current = new Built(names, weights, size, MaglevTable.build(names, weights, size));
            built = current;
        }
        return candidates.get(current.table().lookup(MaglevTable.hashClient(clientHash)));
    }
}
