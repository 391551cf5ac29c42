package io.baton.cluster.history;

import io.baton.cluster.ClusterNode;
import io.baton.cluster.DaemonThreads;
import io.baton.cluster.Decision;
import io.baton.cluster.wire.ClusterMessage;
import io.baton.config.BatonConfig;
import io.baton.config.ConfigError;
import io.baton.config.ConfigParser;
import io.baton.config.ConfigStore;
import io.baton.config.ConfigWriter;
import io.baton.config.InvalidConfigException;
import io.baton.config.MalformedConfigException;
import io.baton.config.RevisionInfo;
import io.baton.config.StoreException;
import io.baton.config.StoredConfig;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The cluster's one ordered config history, and this node's place in it.
 *
 * <p>One node numbers revisions: the <em>sequencer</em>, which is the active node (or, while no
 * node is active, the coordinator of the view). An apply or a rollback sent to any node is
 * proposed to it; it validates the config, stores it under the next number, runs it, and sends it
 * to every member, which stores and runs it and says so in its {@link ClusterMessage.Head}. The
 * proposer's answer names the members that store the revision, those that refused it and why, and
 * those that had not answered in time. A revision is (number, checksum): a member whose history
 * holds a pair the sequencer's does not is <em>diverged</em>; it stores nothing more, says it is
 * not ready (so it takes no part in elections), and every node's status says so until an operator
 * resolves it ({@link #takeCluster()} or {@link #pushLocal()}). The sequencer is the active node so
 * that a difference of histories never moves the active role: the node serving the traffic keeps
 * its config, and the others compare themselves with it.
 *
 * <p>A member that was in step with the sequencer since it joined is <em>vetted</em>: if it is
 * ahead (a sequencer died after sending it a revision), the new sequencer takes that revision from
 * it. A member that joins or merges with revisions the sequencer lacks (applies behind a partition,
 * {@code config rollback --store} on a stopped node) is diverged instead: nothing it has is taken
 * or dropped without an operator.
 *
 * <p>Everything happens on one thread of its own ({@code baton-history}): storing (fsync) and
 * running a revision never run on the cluster's event thread.
 */
public final class ConfigHistory implements AutoCloseable {

    /** How a node's history compares with the sequencer's. */
    public enum State {
        /** Same newest revision as the sequencer (or it is the sequencer). */
        IN_SYNC("in sync"),
        /** Consistent with the sequencer's history, older: catching up (or retrying a revision it refused). */
        BEHIND("behind"),
        /** Consistent, and newer than the sequencer's: the sequencer takes the newer revisions from it. */
        AHEAD("ahead"),
        /** Holds a revision the sequencer's history does not: stores nothing until an operator resolves it. */
        DIVERGED("diverged"),
        /** Has not yet heard the sequencer's history. */
        UNCHECKED("not compared yet");

        private final String text;

        State(String text) {
            this.text = text;
        }

        public String text() {
            return text;
        }

        static State of(int code) {
            return code >= 0 && code < values().length ? values()[code] : UNCHECKED;
        }
    }

    /** What this node needs from the appliance it runs in. */
    public interface Host {
        /** Why {@code config} cannot run on this node (interfaces, key file, scripts); empty when it can. */
        List<ConfigError> check(BatonConfig config);

        /**
         * Runs a stored revision (data planes, checks, VIPs). Called on the history's thread.
         *
         * @return what of it does not run here (a data plane that failed to program), one line each
         */
        List<String> run(StoredConfig revision);

        /** This node's {@link #state()} changed: its readiness for elections may have. */
        void stateChanged();
    }

    /** One member's history as this node knows it (from its last {@link ClusterMessage.Head}). */
    public record Member(String node, long revision, String checksum, State state, String reason,
                         long failedRevision) {
    }

    /**
     * What became of an apply or a rollback.
     *
     * @param stored  members that store the revision; {@code refused}: members that could not, and why;
     *                {@code pending}: members that had not said in time; {@code notRunning}: what of the
     *                revision the node that numbered it (the active node) stores but could not run
     */
    public record Outcome(long revision, String checksum, boolean changed, String sequencer, List<String> stored,
                          Map<String, String> refused, List<String> pending, List<String> notRunning) {
    }

    /** A proposal the sequencer refused as invalid: the errors name the fields. */
    public static final class Refused extends Exception {
        private final List<ConfigError> errors;

        Refused(List<ConfigError> errors) {
            super(errors.size() + " configuration error(s)");
            this.errors = List.copyOf(errors);
        }

        public List<ConfigError> errors() {
            return errors;
        }
    }

    /** An apply or rollback that did not happen, or whose fate is unknown; the message says which. */
    public static final class Failed extends Exception {
        Failed(String message) {
            super(message);
        }
    }

    /** How long a sequencer waits for every member to store a revision before it answers. */
    static final Duration ACK_WAIT = Duration.ofSeconds(5);
    /** How long a proposer waits for the sequencer's answer. */
    static final Duration ANSWER_WAIT = ACK_WAIT.plusSeconds(10);
    /** How often the history is looked at without any event (retries, heads re-sent). */
    static final Duration TICK = Duration.ofSeconds(1);
    /** A member that is behind asks the sequencer again this often. */
    static final Duration RETRY = Duration.ofSeconds(2);
    /** How long after a merge the comparison of histories waits for the merged cluster's decision. */
    static final Duration MERGE_WAIT = Duration.ofSeconds(10);
    /** Heads are sent again this often even when nothing changed (a member that missed one learns it). */
    static final int TICKS_PER_HEAD = 5;

    private static final Logger LOG = LogManager.getLogger(ConfigHistory.class);

    private final ClusterNode cluster;
    private final ConfigStore store;
    private final Host host;
    private final String self;
    private final ScheduledExecutorService thread =
            Executors.newSingleThreadScheduledExecutor(new DaemonThreads("baton-history"));
    private final AtomicLong ids = new AtomicLong();
    /** Proposals this node sent and waits to hear about, by id. */
    private final Map<Long, Proposal> proposals = new ConcurrentHashMap<>();

    // the history thread's own state
    private final Map<String, ClusterMessage.Head> heads = new HashMap<>();
    private final List<Acknowledging> acknowledging = new ArrayList<>();
    private List<ClusterMessage.Revision> kept = List.of();
    private boolean vetted;
    private long mergeEpoch = -1;
    /** System.nanoTime() of the last merge: the comparison waits for the merged cluster's decision, not forever. */
    private long mergedAt;
    private long failedRevision;
    private String failedReason;
    private long lastRequest;
    private int ticks;

    private volatile State state = State.UNCHECKED;
    private volatile String reason;
    private volatile Map<String, Member> members = Map.of();

    private record Proposal(ClusterMessage.Propose propose, CompletableFuture<ClusterMessage.Answer> answer,
                            long deadline) {
    }

    /** A revision the sequencer stored, and the proposer that waits to hear who else has it. */
    private record Acknowledging(String proposer, long id, long revision, String checksum, boolean changed,
                                 long deadline, List<String> notRunning) {
    }

    /** What of a revision that did not run is told in one answer (the wire's limits are higher). */
    private static final int MAX_NOT_RUNNING = 32;
    private static final int MAX_PROBLEM = 1500;

    /** What of the revision this node runs did not run (as its host said); on the history's thread. */
    private List<String> notRunning = List.of();

    private ConfigHistory(ClusterNode cluster, ConfigStore store, Host host) {
        this.cluster = cluster;
        this.store = store;
        this.host = host;
        this.self = cluster.self();
    }

    /** This node's history over {@code store}; it follows the cluster once {@link #start()}ed. */
    public static ConfigHistory create(ClusterNode cluster, ConfigStore store, Host host) {
        return new ConfigHistory(cluster, store, host);
    }

    /** Starts following the cluster's history (the host may be called from now on). */
    public ConfigHistory start() {
        cluster.subscribe(subscriber());
        execute(() -> {
            refreshKept();
            assess();
            broadcastHead();
        });
        thread.scheduleWithFixedDelay(() -> guarded("tick", this::tick), TICK.toMillis(), TICK.toMillis(),
                TimeUnit.MILLISECONDS);
        return this;
    }

    /** How this node's history compares with the cluster's. */
    public State state() {
        return state;
    }

    /** Why this node is behind or diverged (null when in sync). */
    public String reason() {
        return reason;
    }

    /**
     * Why this node must not be elected, as the end of a sentence about it; null when it may. A node
     * that is only behind may: a config change never moves the active role.
     */
    public String unready() {
        State now = state;
        if (now == State.DIVERGED) {
            return "has a config history that diverged from the cluster's (" + reason + ")";
        }
        if (now == State.UNCHECKED) {
            return "has not yet compared its config history with the cluster's";
        }
        return null;
    }

    /** The node that numbers revisions now. */
    public String sequencer() {
        return reference();
    }

    /** Every member's history as last heard, this node's included. */
    public Map<String, Member> members() {
        return members;
    }

    /** Applies {@code config} as the cluster's next revision, through the sequencer. */
    public Outcome apply(BatonConfig config, String source) throws Refused, Failed, InterruptedException {
        return propose(0, ConfigWriter.toJson(config), source + " on " + self);
    }

    /** Applies revision {@code revision} (as the sequencer keeps it) again, as the cluster's next revision. */
    public Outcome rollback(long revision, String source) throws Refused, Failed, InterruptedException {
        return propose(revision, "", source + " on " + self);
    }

    /**
     * Resolves a divergence by taking the cluster's history: this node's revisions that the
     * sequencer does not have are moved aside (into a {@code diverged-*} directory of the store, not
     * deleted), and the sequencer's newest revision is fetched and run.
     *
     * @return what was moved aside, and where
     */
    public String takeCluster() throws Failed, InterruptedException {
        return onThread(() -> {
            if (state != State.DIVERGED) {
                throw new Failed("this node's config history has not diverged (it is " + state.text()
                        + "): there is nothing to resolve");
            }
            String reference = reference();
            ClusterMessage.Head theirs = heads.get(reference);
            if (theirs == null) {
                throw new Failed("the history of " + reference + " is not known yet; try again in a moment");
            }
            long oldestTheyKeep = theirs.kept().isEmpty() ? theirs.revision() : theirs.kept().get(0).number();
            Map<Long, String> mine = new HashMap<>();
            kept.forEach(revision -> mine.put(revision.number(), revision.checksum()));
            Optional<Path> aside;
            try {
                aside = store.setAside(number -> number > theirs.revision()
                        || number >= oldestTheyKeep && !theirs.kept().contains(
                        new ClusterMessage.Revision(number, mine.getOrDefault(number, ""))),
                        "taking the history of " + reference + " on request");
            } catch (StoreException e) {
                throw new Failed(e.getMessage());
            }
            refreshKept();
            vetted = true;
            failedRevision = 0;
            lastRequest = 0;
            assess();
            broadcastHead();
            return aside.map(dir -> "this node's diverged revisions were moved to " + dir + "; taking "
                            + reference + "'s revision " + theirs.revision())
                    .orElse("no revision had to be moved aside; taking " + reference + "'s revision "
                            + theirs.revision());
        });
    }

    /**
     * Resolves a divergence by keeping this node's config: it is applied as the cluster's next
     * revision, and then this node takes the cluster's history (which now ends with it).
     */
    public Outcome pushLocal() throws Refused, Failed, InterruptedException {
        if (state != State.DIVERGED) {
            throw new Failed("this node's config history has not diverged (it is " + state.text()
                    + "): apply a config with `baton config apply` instead");
        }
        StoredConfig mine = store.current().orElseThrow(() -> new Failed("this node's store holds no revision"));
        Outcome outcome = propose(0, ConfigWriter.toJson(mine.config()), "config of diverged node " + self
                + " (its revision " + mine.revision() + "), pushed on request");
        // the sequencer's head is now this config: wait until this node has heard so, then take it
        // (when the sequencer numbered it as this node's own newest revision, the histories already agree)
        long deadline = System.nanoTime() + ANSWER_WAIT.toNanos();
        while (state == State.DIVERGED && !sequencerHas(outcome.revision(), outcome.checksum())
                && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        if (state == State.DIVERGED) {
            takeCluster();
        }
        return outcome;
    }

    @Override
    public void close() {
        thread.shutdownNow();
        proposals.values().forEach(proposal -> proposal.answer().cancel(false));
        try {
            thread.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---- the proposer's side

    private Outcome propose(long rollbackTo, String json, String source) throws Refused, Failed,
            InterruptedException {
        long id = ids.incrementAndGet();
        ClusterMessage.Propose propose = new ClusterMessage.Propose(id, rollbackTo, json, source);
        Proposal proposal = new Proposal(propose, new CompletableFuture<>(), System.nanoTime() + ANSWER_WAIT.toNanos());
        proposals.put(id, proposal);
        String sequencer = reference();
        try {
            execute(() -> send(proposal));
            ClusterMessage.Answer answer = proposal.answer().get(ANSWER_WAIT.toMillis() + 1000, TimeUnit.MILLISECONDS);
            return outcome(answer);
        } catch (TimeoutException e) {
            throw new Failed("no answer from " + sequencer + " (the node that numbers revisions) within "
                    + ANSWER_WAIT.toSeconds() + " s; the change may or may not have been made: see `baton status`");
        } catch (ExecutionException e) {
            throw new Failed(e.getCause().getMessage());
        } catch (java.util.concurrent.CancellationException e) {
            throw new Failed("this node is stopping");
        } finally {
            proposals.remove(id);
        }
    }

    private static Outcome outcome(ClusterMessage.Answer answer) throws Refused, Failed {
        switch (answer.outcome()) {
            case ClusterMessage.Answer.APPLIED -> {
                Map<String, String> refused = new LinkedHashMap<>();
                answer.refused().forEach(note -> refused.put(note.subject(), note.text()));
                return new Outcome(answer.revision(), answer.checksum(), answer.changed(), answer.message(),
                        answer.stored(), refused, answer.pending(),
                        answer.errors().stream().map(ClusterMessage.Note::text).toList());
            }
            case ClusterMessage.Answer.INVALID -> throw new Refused(answer.errors().stream()
                    .map(note -> new ConfigError(note.subject(), note.text())).toList());
            default -> throw new Failed(answer.message());
        }
    }

    /** Sends (or, on the sequencer, handles) a proposal. On the history thread. */
    private void send(Proposal proposal) {
        if (proposal.answer().isDone()) {
            return;
        }
        String sequencer = reference();
        if (sequencer.equals(self)) {
            sequence(self, proposal.propose());
        } else if (!cluster.sendTo(sequencer, proposal.propose())) {
            retryLater(proposal);
        }
    }

    private void retryLater(Proposal proposal) {
        if (System.nanoTime() > proposal.deadline()) {
            proposal.answer().completeExceptionally(new Failed("no node to number the revision: "
                    + reference() + " is not reachable"));
            return;
        }
        thread.schedule(() -> guarded("retry", () -> send(proposal)), 100, TimeUnit.MILLISECONDS);
    }

    private void answered(ClusterMessage.Answer answer) {
        Proposal proposal = proposals.get(answer.id());
        if (proposal == null) {
            return; // the caller gave up, or an answer to nobody
        }
        if (answer.outcome() == ClusterMessage.Answer.NOT_SEQUENCER) {
            LOG.info("proposal {} went to a node that does not number revisions ({}); sending it to {}",
                    answer.id(), answer.message(), reference());
            retryLater(proposal);
            return;
        }
        proposal.answer().complete(answer);
    }

    // ---- the sequencer's side

    private void sequence(String proposer, ClusterMessage.Propose propose) {
        if (!reference().equals(self)) {
            reply(proposer, failure(propose.id(), ClusterMessage.Answer.NOT_SEQUENCER, reference()));
            return;
        }
        if (mergeEpoch >= 0 || !cluster.settled()) {
            // partitions merged, or the members changed, and the view's decision (which names the
            // sequencer: each partition had its own) has not reached this node yet: numbering now could
            // give one number two contents; the proposer asks again in a moment
            reply(proposer, failure(propose.id(), ClusterMessage.Answer.NOT_SEQUENCER,
                    "the cluster's decision after a change of members, not yet here"));
            return;
        }
        if (cluster.behindADecision()) {
            // a member already follows a newer decision, which may name another sequencer: numbering
            // now could give one number two contents; the proposer asks again in a moment
            reply(proposer, failure(propose.id(), ClusterMessage.Answer.NOT_SEQUENCER,
                    "a newer decision of the cluster, not yet adopted here"));
            return;
        }
        BatonConfig config;
        String source = propose.source();
        if (propose.rollbackTo() > 0) {
            try {
                config = store.revision(propose.rollbackTo()).config();
            } catch (StoreException e) {
                reply(proposer, failure(propose.id(), ClusterMessage.Answer.FAILED, "on " + self
                        + " (the node that numbers revisions): " + e.getMessage()));
                return;
            }
        } else {
            try {
                config = ConfigParser.parse(propose.json(), ConfigParser.Format.JSON);
            } catch (MalformedConfigException e) {
                reply(proposer, failure(propose.id(), ClusterMessage.Answer.FAILED, "malformed configuration: "
                        + e.getMessage()));
                return;
            } catch (InvalidConfigException e) {
                reply(proposer, invalid(propose.id(), e.errors(), ""));
                return;
            }
        }
        String checksum = ConfigWriter.checksum(config);
        StoredConfig current = store.current().orElse(null);
        if (current != null && current.checksum().equals(checksum)) {
            acknowledging.add(new Acknowledging(proposer, propose.id(), current.revision(), checksum, false,
                    System.nanoTime() + ACK_WAIT.toNanos(), notRunning));
            answerAcknowledged();
            return;
        }
        List<ConfigError> problems = host.check(config);
        if (!problems.isEmpty()) {
            reply(proposer, invalid(propose.id(), problems, " (on " + self + ", the node that numbers revisions)"));
            return;
        }
        // after anything a vetted member has that this node lacks (a former sequencer's last revision):
        // a number never names two contents among the members in step
        long number = store.highestRevision();
        for (String member : cluster.members()) {
            ClusterMessage.Head head = heads.get(member);
            if (head != null && State.of(head.state()) == State.AHEAD) {
                number = Math.max(number, head.revision());
            }
        }
        number++;
        StoredConfig stored;
        try {
            stored = store.applyReplicated(config, number, source);
        } catch (StoreException e) {
            reply(proposer, failure(propose.id(), ClusterMessage.Answer.FAILED, "on " + self
                    + " (the node that numbers revisions): " + e.getMessage()));
            return;
        }
        refreshKept();
        LOG.info("config revision {} ({}) numbered and stored here: {}", number, checksum, source);
        List<String> running = runStored(stored);
        cluster.broadcast(new ClusterMessage.Config(number, checksum, source, ConfigWriter.toJson(config)));
        broadcastHead();
        acknowledging.add(new Acknowledging(proposer, propose.id(), number, checksum, true,
                System.nanoTime() + ACK_WAIT.toNanos(), running));
        answerAcknowledged();
    }

    /** Answers every proposer whose revision every member now stores or refused, or whose wait is over. */
    private void answerAcknowledged() {
        long now = System.nanoTime();
        for (java.util.Iterator<Acknowledging> it = acknowledging.iterator(); it.hasNext(); ) {
            Acknowledging ack = it.next();
            List<String> stored = new ArrayList<>(List.of(self));
            List<ClusterMessage.Note> refused = new ArrayList<>();
            List<String> pending = new ArrayList<>();
            for (String member : cluster.members()) {
                if (member.equals(self)) {
                    continue;
                }
                ClusterMessage.Head head = heads.get(member);
                ClusterMessage.Revision wanted = new ClusterMessage.Revision(ack.revision(), ack.checksum());
                if (head != null && (head.kept().contains(wanted)
                        || head.revision() == ack.revision() && head.checksum().equals(ack.checksum()))) {
                    stored.add(member);
                } else if (head != null && State.of(head.state()) == State.DIVERGED) {
                    refused.add(new ClusterMessage.Note(member, "its config history diverged from the cluster's ("
                            + head.reason() + "); it stores nothing until that is resolved"));
                } else if (head != null && head.failedRevision() >= ack.revision()) {
                    refused.add(new ClusterMessage.Note(member, head.reason() == null ? "refused it" : head.reason()));
                } else {
                    pending.add(member);
                }
            }
            if (pending.isEmpty() || now > ack.deadline()) {
                it.remove();
                // an applied answer's errors: what of the revision this node (the active one) could not run
                List<ClusterMessage.Note> notRunning = ack.notRunning().stream().limit(MAX_NOT_RUNNING)
                        .map(problem -> new ClusterMessage.Note(self, problem.length() <= MAX_PROBLEM ? problem
                                : problem.substring(0, MAX_PROBLEM) + "...")).toList();
                reply(ack.proposer(), new ClusterMessage.Answer(ack.id(), ClusterMessage.Answer.APPLIED,
                        ack.revision(), ack.checksum(), ack.changed(), self, notRunning, stored, refused, pending));
            }
        }
    }

    private void reply(String proposer, ClusterMessage.Answer answer) {
        if (proposer.equals(self)) {
            answered(answer);
        } else if (!cluster.sendTo(proposer, answer)) {
            LOG.info("cannot answer proposal {} of {}: it left the cluster", answer.id(), proposer);
        }
    }

    private static ClusterMessage.Answer failure(long id, int outcome, String message) {
        return new ClusterMessage.Answer(id, outcome, 0, "", false, message, List.of(), List.of(), List.of(),
                List.of());
    }

    private static ClusterMessage.Answer invalid(long id, List<ConfigError> errors, String where) {
        List<ClusterMessage.Note> notes = errors.stream().limit(500)
                .map(error -> new ClusterMessage.Note(error.path(), error.message() + where)).toList();
        return new ClusterMessage.Answer(id, ClusterMessage.Answer.INVALID, 0, "", false,
                errors.size() + " configuration error(s)", notes, List.of(), List.of(), List.of());
    }

    // ---- every member's side

    private ClusterNode.Subscriber subscriber() {
        return new ClusterNode.Subscriber() {
            @Override
            public void received(String from, ClusterMessage message) {
                if (message instanceof ClusterMessage.Head head) {
                    execute(() -> onHead(from, head));
                } else if (message instanceof ClusterMessage.Config config) {
                    execute(() -> onConfig(from, config));
                } else if (message instanceof ClusterMessage.ConfigRequest) {
                    execute(() -> onRequest(from));
                } else if (message instanceof ClusterMessage.Propose propose) {
                    execute(() -> sequence(from, propose));
                } else if (message instanceof ClusterMessage.Answer answer) {
                    execute(() -> answered(answer));
                }
            }

            @Override
            public void viewChanged(List<String> view, boolean merge) {
                long epoch = cluster.decision().epoch();
                execute(() -> {
                    heads.keySet().retainAll(view);
                    if (merge) {
                        // a partition's history is compared with the merged cluster's active node only
                        vetted = false;
                        mergeEpoch = epoch;
                        mergedAt = System.nanoTime();
                    }
                    assess();
                    broadcastHead();
                    answerAcknowledged();
                });
            }

            @Override
            public void decided(Decision decision) {
                execute(() -> {
                    if (mergeEpoch >= 0 && decision.epoch() > mergeEpoch) {
                        mergeEpoch = -1;
                    }
                    assess();
                    answerAcknowledged();
                });
            }
        };
    }

    private void onHead(String from, ClusterMessage.Head head) {
        boolean first = !heads.containsKey(from);
        heads.put(from, head);
        if (first) {
            cluster.sendTo(from, head()); // a member that just joined learns this node's history at once
        }
        publishMembers();
        assess();
        answerAcknowledged();
    }

    private void onRequest(String from) {
        store.current().ifPresent(current -> cluster.sendTo(from, new ClusterMessage.Config(current.revision(),
                current.checksum(), current.source(), ConfigWriter.toJson(current.config()))));
    }

    /** A revision from the sequencer (or, on the sequencer, from a vetted member that is ahead). */
    private void onConfig(String from, ClusterMessage.Config received) {
        String reference = reference();
        ClusterMessage.Head theirs = heads.get(from);
        boolean fromAhead = reference.equals(self) && theirs != null && State.of(theirs.state()) == State.AHEAD;
        if (!from.equals(reference) && !fromAhead) {
            LOG.debug("revision {} from {} ignored: {} numbers revisions", received.revision(), from, reference);
            return;
        }
        if (!fromAhead && state != State.IN_SYNC && state != State.BEHIND) {
            LOG.info("revision {} from {} not stored: this node's history is {}", received.revision(), from,
                    state.text());
            return;
        }
        if (received.revision() <= store.highestRevision()) {
            return; // had it, or newer: the heads say whether the histories agree
        }
        long number = received.revision();
        String problem = null;
        BatonConfig config = null;
        try {
            config = ConfigParser.parse(received.json(), ConfigParser.Format.JSON);
            if (!ConfigWriter.checksum(config).equals(received.checksum())) {
                problem = "revision " + number + " from " + from + " does not match its checksum " + received.checksum();
            } else {
                List<ConfigError> problems = host.check(config);
                if (!problems.isEmpty()) {
                    problem = "cannot run revision " + number + ": " + String.join("; ",
                            problems.stream().map(ConfigError::toString).toList());
                }
            }
        } catch (MalformedConfigException | InvalidConfigException e) {
            problem = "revision " + number + " from " + from + " is not a valid config: " + e.getMessage();
        }
        if (problem == null) {
            try {
                StoredConfig stored = store.applyReplicated(config, number, "replicated from " + from + " ("
                        + received.source() + ")");
                refreshKept();
                failedRevision = 0;
                failedReason = null;
                LOG.info("config revision {} replicated from {}", number, from);
                runStored(stored);
            } catch (StoreException e) {
                problem = "cannot store revision " + number + ": " + e.getMessage();
            }
        }
        if (problem != null) {
            if (failedRevision != number || !problem.equals(failedReason)) {
                LOG.error("config revision {} from {} not applied: {}; retrying every {} s", number, from, problem,
                        RETRY.toSeconds());
            }
            failedRevision = number;
            failedReason = problem;
        }
        assess();
        broadcastHead();
    }

    /** Runs a stored revision; returns what of it does not run here. */
    private List<String> runStored(StoredConfig stored) {
        try {
            notRunning = List.copyOf(host.run(stored));
        } catch (RuntimeException e) {
            LOG.error("config revision {} is stored but running it failed", stored.revision(), e);
            notRunning = List.of("running revision " + stored.revision() + " failed: " + e);
        }
        return notRunning;
    }

    /** Works out how this node's history compares with the sequencer's, and acts on it. */
    private void assess() {
        if (mergeEpoch >= 0) {
            return; // compared once the merged cluster has decided who is active
        }
        String reference = reference();
        State next;
        String why = null;
        long number = headRevision();
        String checksum = headChecksum();
        if (reference.equals(self)) {
            next = State.IN_SYNC;
        } else {
            ClusterMessage.Head theirs = heads.get(reference);
            if (theirs == null) {
                return; // not heard yet
            }
            if (number == theirs.revision()) {
                next = checksum.equals(theirs.checksum()) ? State.IN_SYNC : State.DIVERGED;
                if (next == State.DIVERGED) {
                    why = "revision " + number + " is " + shortly(checksum) + " here but " + shortly(theirs.checksum())
                            + " on " + reference;
                }
            } else if (number < theirs.revision()) {
                ClusterMessage.Revision at = theirs.kept().stream().filter(kept -> kept.number() == number)
                        .findFirst().orElse(null);
                if (at != null) {
                    next = at.checksum().equals(checksum) ? State.BEHIND : State.DIVERGED;
                    if (next == State.DIVERGED) {
                        why = "revision " + number + " is " + shortly(checksum) + " here but "
                                + shortly(at.checksum()) + " on " + reference;
                    }
                } else if (number == 0 || theirs.kept().isEmpty() || number < theirs.kept().get(0).number()) {
                    next = State.BEHIND; // older than anything the sequencer keeps: nothing to compare
                } else if (vetted) {
                    next = State.BEHIND;
                } else {
                    next = State.DIVERGED;
                    why = "revision " + number + " here is not in the history of " + reference;
                }
            } else if (vetted) {
                next = State.AHEAD;
            } else {
                next = State.DIVERGED;
                why = "this node has revision " + number + ", which " + reference + " (at revision "
                        + theirs.revision() + ") does not have";
            }
            if (next == State.IN_SYNC && failedRevision > number) {
                next = State.BEHIND; // a newer revision came and could not be stored here
            }
            if (next == State.BEHIND) {
                why = failedRevision > number ? failedReason + "; retrying"
                        : "catching up from revision " + number + " to " + theirs.revision() + " of " + reference;
                requestFrom(reference);
            }
            if (next == State.IN_SYNC && failedRevision > 0 && failedRevision <= number) {
                failedRevision = 0;
                failedReason = null;
            }
        }
        if (next == State.IN_SYNC || next == State.BEHIND) {
            vetted = true;
        }
        if (reference.equals(self)) {
            for (String member : cluster.members()) {
                ClusterMessage.Head head = heads.get(member);
                if (head != null && State.of(head.state()) == State.AHEAD && head.revision() > number) {
                    requestFrom(member); // a revision a former sequencer sent it and not this node
                }
            }
        }
        State before = state;
        String reasonBefore = reason;
        state = next;
        reason = why;
        if (before != next) {
            if (next == State.DIVERGED) {
                LOG.error("this node's config history diverged from the cluster's: {}. It takes no part in elections"
                        + " and stores no revision until an operator resolves it: `baton config resolve"
                        + " --take-cluster` (drop this node's revisions) or `--push-local` (apply this node's config"
                        + " as the cluster's next revision)", why);
            } else {
                LOG.info("config history {} (was {}){}", next.text(), before.text(), why == null ? "" : ": " + why);
            }
        }
        if (before != next || !java.util.Objects.equals(reasonBefore, why)) {
            publishMembers();
            broadcastHead();
            if (before != next) {
                try {
                    host.stateChanged();
                } catch (RuntimeException e) {
                    LOG.warn("could not announce the history's state: {}", e.toString());
                }
            }
        }
    }

    private void requestFrom(String member) {
        long now = System.nanoTime();
        if (now - lastRequest < RETRY.toNanos() && lastRequest != 0) {
            return;
        }
        lastRequest = now;
        cluster.sendTo(member, new ClusterMessage.ConfigRequest());
    }

    private void tick() {
        ticks++;
        long now = System.nanoTime();
        if (mergeEpoch >= 0 && now - mergedAt > MERGE_WAIT.toNanos()) {
            LOG.warn("no decision followed the merge within {} s: comparing histories with {} now",
                    MERGE_WAIT.toSeconds(), reference());
            mergeEpoch = -1;
        }
        for (Proposal proposal : proposals.values()) {
            if (now > proposal.deadline() + TimeUnit.SECONDS.toNanos(1)) {
                proposal.answer().completeExceptionally(new Failed("no answer within " + ANSWER_WAIT.toSeconds()
                        + " s"));
            }
        }
        assess();
        answerAcknowledged();
        if (ticks % TICKS_PER_HEAD == 0 || state != State.IN_SYNC) {
            broadcastHead();
        }
    }

    private boolean sequencerHas(long revision, String checksum) {
        try {
            return onThread(() -> {
                ClusterMessage.Head theirs = heads.get(reference());
                return reference().equals(self) || theirs != null && theirs.revision() >= revision
                        && theirs.kept().contains(new ClusterMessage.Revision(revision, checksum));
            });
        } catch (Failed | InterruptedException e) {
            return false;
        }
    }

    private String reference() {
        List<String> view = cluster.members();
        Decision decision = cluster.decision();
        if (decision.active() != null && view.contains(decision.active())) {
            return decision.active();
        }
        return view.isEmpty() ? self : view.get(0);
    }

    private void refreshKept() {
        try {
            List<ClusterMessage.Revision> now = new ArrayList<>();
            for (RevisionInfo info : store.revisions()) {
                if (info.intact()) {
                    now.add(new ClusterMessage.Revision(info.revision(), info.checksum()));
                }
            }
            kept = now.size() > io.baton.cluster.wire.ClusterCodec.MAX_KEPT
                    ? List.copyOf(now.subList(now.size() - io.baton.cluster.wire.ClusterCodec.MAX_KEPT, now.size()))
                    : List.copyOf(now);
        } catch (StoreException e) {
            LOG.warn("cannot list the config store: {}", e.getMessage());
        }
    }

    private long headRevision() {
        return store.current().map(StoredConfig::revision).orElse(0L);
    }

    private String headChecksum() {
        return store.current().map(StoredConfig::checksum).orElse("");
    }

    private ClusterMessage.Head head() {
        return new ClusterMessage.Head(headRevision(), headChecksum(), kept, state.ordinal(), reason,
                failedRevision);
    }

    private void broadcastHead() {
        cluster.broadcast(head());
        publishMembers();
    }

    private void publishMembers() {
        Map<String, Member> now = new LinkedHashMap<>();
        now.put(self, new Member(self, headRevision(), headChecksum(), state, reason, failedRevision));
        for (String member : cluster.members()) {
            ClusterMessage.Head head = heads.get(member);
            if (head != null && !member.equals(self)) {
                now.put(member, new Member(member, head.revision(), head.checksum(), State.of(head.state()),
                        head.reason(), head.failedRevision()));
            }
        }
        members = Map.copyOf(now);
    }

    private static String shortly(String checksum) {
        return checksum.length() > 19 ? checksum.substring(0, 19) : checksum;
    }

    /** A step on the history thread that returns a value or fails with a message for the operator. */
    private interface Step<T> {
        T run() throws Failed;
    }

    private <T> T onThread(Step<T> step) throws Failed, InterruptedException {
        CompletableFuture<T> result = new CompletableFuture<>();
        execute(() -> {
            try {
                result.complete(step.run());
            } catch (Failed | RuntimeException e) {
                result.completeExceptionally(e);
            }
        });
        try {
            return result.get(ANSWER_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Failed failed) {
                throw failed;
            }
            throw new Failed(e.getCause().toString());
        } catch (TimeoutException e) {
            throw new Failed("the config history is busy; try again");
        }
    }

    private void execute(Runnable step) {
        try {
            thread.execute(() -> guarded("step", step));
        } catch (RejectedExecutionException e) {
            // stopping
        }
    }

    private void guarded(String what, Runnable step) {
        try {
            step.run();
        } catch (RuntimeException e) {
            LOG.error("config history: {} failed", what, e);
        }
    }
}
