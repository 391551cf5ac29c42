package io.baton.cluster.wire;

/** Everything one node says to the others; {@link ClusterCodec} is the one place these become bytes. */
public sealed interface ClusterMessage {

    /**
     * What a member says of itself.
     *
     * @param unready why it is not ready, null when ready
     * @param epoch   the highest decision epoch it has adopted
     */
    record Info(int priority, long revision, boolean ready, boolean holding, String unready, long epoch)
            implements ClusterMessage {
    }

    /** The coordinator's decision: who is active (null: nobody), under which epoch, and why. */
    record Decided(String active, long epoch, String reason, boolean merged) implements ClusterMessage {
    }

    /** Asks the receiver for the config it runs. */
    record ConfigRequest() implements ClusterMessage {
    }

    /**
     * Source-IP persistence entries the active node recorded: which server each client is pinned
     * to, and for how much longer (a duration, not a time: the nodes' clocks need not agree).
     */
    record Pins(java.util.List<Pin> pins) implements ClusterMessage {
        public Pins {
            pins = java.util.List.copyOf(pins);
        }
    }

    /** One pinned client of a service. */
    record Pin(String service, String client, String server, long ttlMillis) {
    }

    /** A config revision, as canonical JSON. */
    record Config(long revision, String json) implements ClusterMessage {
    }
}
