package io.baton.cluster.wire;

/** Everything one node says to the others; {@link ClusterCodec} is the one place these become bytes. */
public sealed interface ClusterMessage {

    /**
     * What a member says of itself.
     *
     * @param unready why it is not ready, null when ready
     * @param epoch   the highest decision epoch it has adopted
     * @param booting it started a moment ago and has not yet seen every configured node ready in one
     *                view (at most 30 s): a merge or join of members that all boot elects by priority
     * @param serving the interfaces (name → MAC) of the VIPs whose connections it serves, held or drained
     */
    record Info(int priority, long revision, boolean ready, boolean holding, String unready, long epoch,
                java.util.List<String> macs, boolean booting, java.util.Map<String, String> serving)
            implements ClusterMessage {
        public Info {
            macs = java.util.List.copyOf(macs);
            serving = java.util.Map.copyOf(serving);
        }

        /** A member that serves no drained VIP. */
        public Info(int priority, long revision, boolean ready, boolean holding, String unready, long epoch,
                    java.util.List<String> macs, boolean booting) {
            this(priority, revision, ready, holding, unready, epoch, macs, booting, java.util.Map.of());
        }

        /** A member that is not booting. */
        public Info(int priority, long revision, boolean ready, boolean holding, String unready, long epoch,
                    java.util.List<String> macs) {
            this(priority, revision, ready, holding, unready, epoch, macs, false);
        }

        /** Without MACs. */
        public Info(int priority, long revision, boolean ready, boolean holding, String unready, long epoch) {
            this(priority, revision, ready, holding, unready, epoch, java.util.List.of());
        }
    }

    /**
     * The coordinator's decision: who is active (null: nobody), under which epoch, and why; and when
     * the active role last moved, from which node ({@code movedAt} 0: it never moved since the
     * cluster formed), so that a node that joins reports the cluster's last failover.
     */
    record Decided(String active, long epoch, String reason, boolean merged, long movedAt, String movedFrom)
            implements ClusterMessage {
        /** A decision without a last failover. */
        public Decided(String active, long epoch, String reason, boolean merged) {
            this(active, epoch, reason, merged, 0, null);
        }
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

    /** The active node's health verdicts on real servers, so that a node taking over starts with them. */
    record Verdicts(java.util.List<Verdict> verdicts) implements ClusterMessage {
        public Verdicts {
            verdicts = java.util.List.copyOf(verdicts);
        }
    }

    /** One real server judged up or down by the checks of the node that sends it. */
    record Verdict(String service, String server, boolean up) {
    }

    /**
     * A config revision of the cluster's history, as canonical JSON: sent by the node that numbered it
     * to every member, and to a member that asks ({@link ConfigRequest}).
     *
     * @param source what applied it first ({@code admin-api on n1}, {@code rollback to 7})
     */
    record Config(long revision, String checksum, String source, String json) implements ClusterMessage {
        /** A revision without checksum or source (only hostile tests send one). */
        public Config(long revision, String json) {
            this(revision, "", "", json);
        }
    }

    /** One revision of a history: its number and the checksum of its content. */
    record Revision(long number, String checksum) {
    }

    /**
     * Where a member's config history stands: its newest revision, the revisions it keeps (oldest
     * first), how it compares with the cluster's history ({@code state}, see
     * {@code ConfigHistory.State}) and why, and the last revision it could not store (0: none).
     */
    record Head(long revision, String checksum, java.util.List<Revision> kept, int state, String reason,
                long failedRevision) implements ClusterMessage {
        public Head {
            kept = java.util.List.copyOf(kept);
        }
    }

    /**
     * Asks the node that numbers revisions to make a config the next revision: {@code json} (a
     * canonical config), or, when {@code rollbackTo} is above 0, a revision it keeps. {@code id}
     * names the request in the {@link Answer}.
     */
    record Propose(long id, long rollbackTo, String json, String source) implements ClusterMessage {
    }

    /** A subject and what is said of it: a config field and its error, or a node and its reason. */
    record Note(String subject, String text) {
    }

    /**
     * What became of a {@link Propose}.
     *
     * @param outcome {@link #APPLIED}, {@link #INVALID} (errors name the fields), {@link #NOT_SEQUENCER}
     *                (ask {@code message}, the node named there) or {@link #FAILED} (message says why)
     * @param stored  the members that store the revision now; {@code refused}: members that could not,
     *                with their reasons; {@code pending}: members that had not answered in time
     */
    record Answer(long id, int outcome, long revision, String checksum, boolean changed, String message,
                  java.util.List<Note> errors, java.util.List<String> stored, java.util.List<Note> refused,
                  java.util.List<String> pending) implements ClusterMessage {
        public static final int APPLIED = 0;
        public static final int INVALID = 1;
        public static final int NOT_SEQUENCER = 2;
        public static final int FAILED = 3;

        public Answer {
            errors = java.util.List.copyOf(errors);
            stored = java.util.List.copyOf(stored);
            refused = java.util.List.copyOf(refused);
            pending = java.util.List.copyOf(pending);
        }
    }

    /** Asks the sequencer to set an operator state ({@code online}, {@code drain}, {@code halt}) on a real server. */
    record StateChange(long id, String service, String server, String state, String source) implements ClusterMessage {
    }

    /** The cluster's operator states of real servers, as the sequencer numbered them. */
    record ServerStates(long version, java.util.List<StateEntry> states) implements ClusterMessage {
        /** States in one message: more real servers than any one cluster has. */
        public static final int MAX = 2000;

        public ServerStates {
            states = java.util.List.copyOf(states);
        }
    }

    /** One server's operator state, when and by what it was set. */
    record StateEntry(String service, String server, String state, String at, String source) {
    }

    /** Asks the sequencer for the cluster's server states (a node that just joined, or learnt who numbers them). */
    record StatesRequest() implements ClusterMessage {
    }

    /**
     * Changes operators made, as the nodes they came through recorded them: each node sends its
     * new entries, and its newest when members join; a receiver keeps what it lacks (by id).
     */
    record Audit(java.util.List<AuditRecord> entries) implements ClusterMessage {
        /** Entries in one message. */
        public static final int MAX = 200;

        public Audit {
            entries = java.util.List.copyOf(entries);
        }
    }

    /**
     * One change: what ({@code apply}, {@code rollback}, {@code drain}, {@code failover} ...), when
     * (ISO-8601), through which node, by whom (the token's name) from where (the caller's address),
     * the config revision it made or ran under, the operator's reason and a short summary.
     */
    record AuditRecord(String id, String at, String node, String action, long revision, String caller, String peer,
                       String reason, String summary) {
    }
}
