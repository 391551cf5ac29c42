package io.baton.cluster;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Whether this node holds the VIPs, as a pure state machine: each {@link #step} takes what the node
 * sees now (an {@link Observation}: the cluster's decision and view, the members' infos, the
 * witness, the links, the clock) and returns the new {@link State} and the {@link Action}s to take.
 * It never touches the host or the network; {@code HaController} executes the actions (adds and
 * removes the VIPs, announces them, probes ARP, tells the cluster) and feeds the results back.
 *
 * <p>The rules, in order:
 * <ol>
 *   <li>A node that has no link on a VIP interface releases at once. A node that stops or hands the
 *       role over while a ready peer is a member drains first ({@link Action.Drain}): it stops
 *       answering ARP for the VIPs (the peer claims them at once, as it sees no holder) but serves
 *       what still reaches it, until the peer says it holds them or {@link #DRAIN_LIMIT} has passed.
 *       Once the peer holds them it lingers: the connections it accepted go on here (the new holder
 *       forwards their packets back to it, see {@link MemberInfo#serving}) for {@link #LINGER_MIN}
 *       at least, then until none is left, for {@link #LINGER_LIMIT} at most; then it releases.
 *       Without a ready peer it releases at once.</li>
 *   <li>Otherwise the quorum rule ({@link VipPolicy}) says whether the active node may hold the VIPs.</li>
 *   <li>A claim waits until the view's decision was made knowing every member, and until no other
 *       member of the view says it holds the VIPs.</li>
 *   <li>While a configured node is absent, it may be alive behind a cut link: a claim first probes
 *       ARP for the VIPs ({@link Action.Probe}). A VIP answered by a Baton peer's MAC (every member
 *       publishes its MACs) blocks the claim: forever in a minority or exact half (the old active
 *       releases when it can), for {@link #MAJORITY_PROBE_WAIT} with a strict majority (a node in a
 *       minority releases at once, so a longer answer is stale). An answer from any other MAC is an
 *       address conflict: it is reported, and blocks for {@link #CONFLICT_WAIT} at most, unless a
 *       configured node was never seen (its MAC is unknown: it may be that node).</li>
 *   <li>Absent nodes that stopped on purpose, whose last word said they hold nothing, need no probe;
 *       a node that was lost (cut off, frozen) may have claimed the VIPs after its last word.</li>
 *   <li>When the VIP guard removed the VIPs while this JVM was stopped ({@link #fenced}), the view
 *       it resumes with is stale and a peer may hold the VIPs by now: for {@link #FENCE_SETTLE} it
 *       claims nothing (a decision then may be its own, made in that stale view), then on the
 *       cluster's next decision, or once a probe finds no peer answering for them (with no bound
 *       on that wait).</li>
 * </ol>
 * Not thread-safe: one thread steps it.
 */
public final class HaStateMachine {

    /** What the node is doing, for the status and the log. */
    public enum State {
        /** No decision adopted yet: the node has not heard the cluster. */
        STARTING,
        PASSIVE,
        /** Holds the VIPs. */
        ACTIVE,
        /** Gives the active role to a peer on request. */
        HANDING_OVER,
        /** A VIP interface has no link: not fit to hold VIPs. */
        FAULT,
        STOPPING
    }

    /** What the controller does for the machine. */
    public sealed interface Action {
        /** Add the VIPs, start forwarding, announce them with gratuitous ARP, and tell the cluster. */
        record Claim(String reason) implements Action {
        }

        /** Stop forwarding, remove the VIPs (drained ones too), and tell the cluster. */
        record Release(String reason) implements Action {
        }

        /**
         * Stop answering ARP for the VIPs and tell the cluster that this node holds none, but keep
         * serving the clients whose neighbour entries still point here, until a {@link Release}.
         */
        record Drain(String reason) implements Action {
        }

        /** Announce the VIPs again (after a merge, the other partition's neighbours may point elsewhere). */
        record Announce() implements Action {
        }

        /** Probe ARP for every VIP and step again with the answers. */
        record Probe() implements Action {
        }

        /** Step again after this long even if nothing changes. */
        record Recheck(Duration after) implements Action {
        }

        /** Something the operator should read in the log. */
        record Warn(String message) implements Action {
        }
    }

    /**
     * What the node sees.
     *
     * @param members    the node ids of the current view
     * @param configured every configured node id
     * @param infos      what each member of the view last said of itself
     * @param departed   the last word of configured nodes not in the view
     * @param settled    the view's decision was made knowing every member's info
     * @param linkDown   the VIP interface without link, or null
     * @param reannounce the step follows a merge of partitions
     * @param now        System.nanoTime()
     */
    public record Observation(String self, Decision decision, List<String> members, List<String> configured,
                              Map<String, MemberInfo> infos, Map<String, MemberInfo> departed, boolean settled,
                              boolean witnessConfigured, boolean witnessAnswers, String linkDown,
                              boolean handingOver, boolean stopping, boolean reannounce, long now,
                              int drainedConnections) {
        public Observation {
            members = List.copyOf(members);
            configured = List.copyOf(configured);
            infos = Map.copyOf(infos);
            departed = Map.copyOf(departed);
        }
    }

    /** Who answered one VIP's ARP probe (other hosts only: never this node). */
    public record ProbeAnswer(String vip, String iface, Set<String> macs) {
        public ProbeAnswer {
            macs = Set.copyOf(macs);
        }
    }

    /** The state, why, and what to do. */
    public record Step(State state, String verdict, List<Action> actions) {
        public Step {
            actions = List.copyOf(actions);
        }

        public boolean probes() {
            return actions.stream().anyMatch(Action.Probe.class::isInstance);
        }
    }

    /** An address conflict: the foreign MACs that answer ARP for a VIP, since when (nanoTime). */
    public record Conflict(Set<String> macs, String iface, long since) {
    }

    /** When a VIP still answers from a Baton peer in a minority, the next look. */
    public static final Duration RECHECK = Duration.ofMillis(50);
    /**
     * How long a host that is no Baton node (its MAC is none a member published) may hold up a
     * takeover by answering ARP for a VIP.
     */
    public static final Duration CONFLICT_WAIT = Duration.ofMillis(300);
    /**
     * How long a node with a strict majority waits for a VIP that a Baton peer still answers for
     * before it claims it anyway: an old active cut into a minority releases at once (within its
     * failure detection), so this bounds a takeover that a stale answer would otherwise hold up.
     */
    public static final Duration MAJORITY_PROBE_WAIT = Duration.ofSeconds(1);

    /** How long a draining node waits for a peer to hold the VIPs before it releases them anyway. */
    public static final Duration DRAIN_LIMIT = Duration.ofSeconds(2);

    /**
     * How long a node that handed the VIPs over serves on after the new holder holds them, whatever
     * it counts: a handshake or a request in flight at the switch completes here.
     */
    public static final Duration LINGER_MIN = Duration.ofSeconds(1);
    /** How long it serves the connections it still has after that, at most: a stop must end. */
    public static final Duration LINGER_LIMIT = Duration.ofSeconds(5);

    /** How long after a fence a node claims again only on a newer decision (its view catches up first). */
    public static final Duration FENCE_SETTLE = Duration.ofSeconds(1);

    private State state = State.STARTING;
    /** nanoTime of the last fence and the decision's epoch then; 0 when none. */
    private long fencedAt;
    private long fencedEpoch;
    private boolean holding;
    /** nanoTime since which this node drains the VIPs for a peer (see {@link Action.Drain}); 0 when not. */
    private long drainingSince;
    /** nanoTime since which a peer holds the VIPs this node drains (it lingers, see {@link #LINGER_MIN}); 0 when not. */
    private long lingeringSince;
    private String verdict = "starting";
    /** nanoTime since which a majority-side claim has waited for a VIP answered elsewhere; 0 when not. */
    private long majorityWaitSince;
    private final Map<String, Conflict> conflicts = new TreeMap<>();

    public State state() {
        return state;
    }

    public boolean holding() {
        return holding;
    }

    /** Whether this node serves on VIPs it no longer answers ARP for, until a peer holds them. */
    public boolean draining() {
        return drainingSince != 0;
    }

    public String verdict() {
        return verdict;
    }

    /** VIP -> the address conflict on it. */
    public Map<String, Conflict> conflicts() {
        return Map.copyOf(conflicts);
    }

    /**
     * The VIP guard removed the VIPs while this JVM was stopped: this node holds nothing now.
     *
     * @return the step that releases what is left (forwarding, the cluster's idea that it holds)
     */
    public Step fenced(Observation seen) {
        fencedAt = seen.now() == 0 ? 1 : seen.now();
        fencedEpoch = seen.decision().epoch();
        List<Action> actions = new ArrayList<>();
        String why = "the VIP guard removed the VIPs while this node was stopped";
        if (holding || drainingSince != 0) {
            holding = false;
            drainingSince = 0;
            lingeringSince = 0;
            actions.add(new Action.Release(why));
        }
        verdict = why;
        state = State.PASSIVE;
        return new Step(state, verdict, actions);
    }

    /**
     * Runs a machine of its own through the steps a node takes when it serves (a peer that stops
     * hands it the VIPs, a lost peer's VIPs after a probe, a minority, a hand-over and a stop of its
     * own) and returns the claims it saw. The machine is pure, so this touches nothing; a node does it
     * once at its start so that its first takeover does not load and link this code on the way
     * ({@code bench/failover.sh}: the first claim's step took 6-10 ms, ~0.1 ms once run before).
     */
    public static int rehearse() {
        String self = "rehearsal-a";
        String peer = "rehearsal-b";
        String third = "rehearsal-c";
        List<String> pair = List.of(self, peer);
        MemberInfo me = new MemberInfo(self, 100, 1, true, false, null, List.of("02:00:00:00:00:0a"));
        MemberInfo holder = new MemberInfo(peer, 200, 1, true, true, null, List.of("02:00:00:00:00:0b"));
        MemberInfo standby = new MemberInfo(peer, 200, 1, true, false, null, List.of("02:00:00:00:00:0b"));
        MemberInfo leaving = new MemberInfo(peer, 200, 1, false, false, MemberInfo.STOPPING,
                List.of("02:00:00:00:00:0b"), Map.of("eth0", "02:00:00:00:00:0b"));
        Decision peerActive = new Decision(peer, 1, "rehearsal");
        Decision selfActive = new Decision(self, 2, "rehearsal");
        List<ProbeAnswer> silent = List.of(new ProbeAnswer("192.0.2.1", "eth0", Set.of()));
        List<ProbeAnswer> stranger = List.of(new ProbeAnswer("192.0.2.1", "eth0", Set.of("02:99:99:99:99:99")));
        HaStateMachine machine = new HaStateMachine();
        int claims = 0;
        long now = 1_000_000_000L;
        Map<String, MemberInfo> both = Map.of(self, me, peer, holder);
        List<Observation> seen = List.of(
                new Observation(self, Decision.NONE, pair, pair, Map.of(self, me), Map.of(), false, true, true, null,
                        false, false, false, now, 0),
                new Observation(self, peerActive, pair, pair, both, Map.of(), true, true, true, null, false, false,
                        false, now + 1_000_000, 0),
                new Observation(self, selfActive, pair, pair, Map.of(self, me, peer, leaving), Map.of(), true, true,
                        true, null, false, false, false, now + 2_000_000, 0),
                new Observation(self, selfActive, List.of(self), pair, Map.of(self, me), Map.of(peer, leaving), true,
                        true, true, null, false, false, true, now + 3_000_000, 0),
                new Observation(self, selfActive, List.of(self), List.of(self, peer, third), Map.of(self, me),
                        Map.of(peer, holder), true, false, false, null, false, false, false, now + 4_000_000, 0),
                new Observation(self, selfActive, List.of(self), pair, Map.of(self, me), Map.of(peer, holder), true,
                        true, true, null, false, false, false, now + 5_000_000, 0),
                new Observation(self, selfActive, List.of(self), pair, Map.of(self, me), Map.of(peer, holder), true,
                        true, true, null, false, false, false, now + 5_000_000 + CONFLICT_WAIT.toNanos(), 0),
                new Observation(self, selfActive, pair, pair, Map.of(self, me, peer, standby), Map.of(),
                        true, true, true, null, true, false, false, now + 6_000_000, 1),
                new Observation(self, peerActive, pair, pair, both, Map.of(), true, true, true, null, true, false,
                        false, now + 7_000_000, 1),
                new Observation(self, peerActive, pair, pair, both, Map.of(), true, true, true, null, false, true,
                        false, now + 8_000_000, 0),
                new Observation(self, peerActive, pair, pair, both, Map.of(), true, true, true, "eth0", false, false,
                        false, now + 9_000_000, 0));
        int probes = 0;
        for (Observation observation : seen) {
            Step step = machine.step(observation);
            if (step.probes()) {
                step = machine.step(observation, probes++ == 0 ? stranger : silent);
            }
            claims += (int) step.actions().stream().filter(Action.Claim.class::isInstance).count();
            machine.conflicts();
        }
        return claims;
    }

    /** One step without probe answers: when the rules need them, the step's actions say {@link Action.Probe}. */
    public Step step(Observation seen) {
        return step(seen, null);
    }

    /**
     * One step.
     *
     * @param answers the answers to the probe the previous step asked for; null when none was taken
     */
    public Step step(Observation seen, List<ProbeAnswer> answers) {
        List<Action> actions = new ArrayList<>();
        String stopReason = seen.stopping() ? "stopping: releasing the VIPs before leaving the cluster"
                : seen.linkDown() != null ? "FAULT: link down on " + seen.linkDown()
                : seen.handingOver() ? "handing the active role over" : null;
        if (stopReason != null) {
            state = seen.stopping() ? State.STOPPING : seen.linkDown() != null ? State.FAULT : State.HANDING_OVER;
            majorityWaitSince = 0;
            if (seen.linkDown() == null) {
                Step drain = drain(seen, stopReason, actions);
                if (drain != null) {
                    return drain;
                }
            }
            return finish(stopReason, false, actions);
        }
        Decision decision = seen.decision();
        int nodes = seen.configured().size();
        boolean strictMajority = seen.members().size() * 2 > nodes;
        VipPolicy.Verdict next = VipPolicy.decide(seen.self(), decision, seen.members().size(), nodes,
                seen.witnessConfigured(), seen.witnessConfigured() && !strictMajority && seen.witnessAnswers());
        if (next.hold() && !holding) {
            next = mayClaim(seen, next, answers, strictMajority, actions);
        } else {
            majorityWaitSince = 0;
        }
        if (next == null) {
            return new Step(state, verdict, actions); // a probe first
        }
        if (holding && next.hold() && seen.reannounce()) {
            actions.add(new Action.Announce());
        }
        state = decision.epoch() == 0 && !next.hold() && !holding ? State.STARTING
                : next.hold() ? State.ACTIVE : State.PASSIVE;
        if (!next.hold() && !holding && drainingSince != 0) {
            Step lingering = linger(seen, next.reason(), actions);
            if (lingering != null) {
                return lingering;
            }
        }
        return finish(next.reason(), next.hold(), actions);
    }

    private Step finish(String reason, boolean hold, List<Action> actions) {
        verdict = reason;
        if (hold && !holding) {
            actions.add(0, new Action.Claim(reason)); // from a drain too: the VIPs are answered here again
            holding = true;
            drainingSince = 0;
            lingeringSince = 0;
        } else if (!hold && (holding || drainingSince != 0)) {
            actions.add(0, new Action.Release(reason));
            holding = false;
            drainingSince = 0;
            lingeringSince = 0;
        }
        return new Step(state, verdict, actions);
    }

    /**
     * The planned hand-over, make before break: the step that starts or continues a drain, or null
     * when the VIPs are to be released now (nothing held, no ready peer, a peer holds them, or the
     * drain has lasted {@link #DRAIN_LIMIT}).
     */
    private Step drain(Observation seen, String stopReason, List<Action> actions) {
        if (drainingSince != 0) {
            if (otherHolder(seen) != null) {
                Step lingering = linger(seen, stopReason, actions);
                return lingering != null ? lingering
                        : finish(stopReason + "; " + otherHolder(seen) + " holds the VIPs now", false, actions);
            }
            if (seen.now() - drainingSince >= DRAIN_LIMIT.toNanos()) {
                actions.add(new Action.Warn("no peer claimed the VIPs within " + DRAIN_LIMIT.toMillis()
                        + " ms of the hand-over: releasing them anyway"));
                return finish(stopReason, false, actions);
            }
            verdict = stopReason + ": serving what still arrives until a peer holds the VIPs";
            actions.add(new Action.Recheck(RECHECK));
            return new Step(state, verdict, actions);
        }
        if (!holding) {
            return null;
        }
        String ready = seen.members().stream()
                .filter(id -> !id.equals(seen.self()))
                .filter(id -> seen.infos().containsKey(id) && seen.infos().get(id).ready())
                .findFirst().orElse(null);
        if (ready == null) {
            return null;
        }
        holding = false;
        drainingSince = seen.now() == 0 ? 1 : seen.now();
        verdict = stopReason + ": " + ready + " may claim the VIPs; serving what still arrives until a peer holds them";
        actions.add(new Action.Drain(verdict));
        actions.add(new Action.Recheck(RECHECK));
        return new Step(state, verdict, actions);
    }

    /**
     * After a hand-over, while a peer holds the VIPs: the step that goes on serving the connections
     * this node still has, or null when it is time to release (or no peer holds them).
     */
    private Step linger(Observation seen, String reason, List<Action> actions) {
        String holder = otherHolder(seen);
        if (holder == null) {
            lingeringSince = 0;
            return null;
        }
        if (lingeringSince == 0) {
            lingeringSince = seen.now() == 0 ? 1 : seen.now();
        }
        long lingered = seen.now() - lingeringSince;
        int left = seen.drainedConnections();
        if (lingered >= LINGER_LIMIT.toNanos()) {
            if (left > 0) {
                actions.add(new Action.Warn(left + " connection(s) still open " + LINGER_LIMIT.toMillis()
                        + " ms after " + holder + " took the VIPs over: closing them"));
            }
            return null;
        }
        if (lingered >= LINGER_MIN.toNanos() && left == 0) {
            return null;
        }
        verdict = reason + "; " + holder + " holds the VIPs now: serving the " + (left == 0 ? "" : left + " ")
                + "connections still here (" + holder + " forwards their packets) until they end";
        actions.add(new Action.Recheck(RECHECK));
        return new Step(state, verdict, actions);
    }

    /** Another member of the view that says it holds the VIPs; null when none. */
    private static String otherHolder(Observation seen) {
        return seen.members().stream()
                .filter(id -> !id.equals(seen.self()))
                .filter(id -> seen.infos().containsKey(id) && seen.infos().get(id).holding())
                .findFirst().orElse(null);
    }

    /** The checks before a claim; null when a probe must be taken first. */
    private VipPolicy.Verdict mayClaim(Observation seen, VipPolicy.Verdict allowed, List<ProbeAnswer> answers,
                                       boolean strictMajority, List<Action> actions) {
        // after a fence, what this node knew before it was stopped is stale: any peer may hold the VIPs now
        boolean doubt = false;
        if (fencedAt != 0) {
            if (seen.now() - fencedAt < FENCE_SETTLE.toNanos()) {
                // a decision now may be this node's own, as the coordinator of the view it was stopped in (the
                // soak saw one 10 ms after a resume: "partitions merged; lb2 stays active", two holders for 0.5 s
                // until its view caught up): only a decision after the settle is the cluster's
                fencedEpoch = seen.decision().epoch();
                actions.add(new Action.Recheck(RECHECK));
                return new VipPolicy.Verdict(false, "the VIP guard removed the VIPs while this node was stopped:"
                        + " waiting for the cluster's next decision");
            }
            if (seen.decision().epoch() != fencedEpoch) {
                fencedAt = 0;
            } else {
                doubt = true;
            }
        }
        if (!seen.settled()) {
            majorityWaitSince = 0;
            return new VipPolicy.Verdict(false, "waiting for the cluster to settle after a change of members");
        }
        String otherHolder = otherHolder(seen);
        if (otherHolder != null) {
            majorityWaitSince = 0;
            return new VipPolicy.Verdict(false, "waiting for " + otherHolder + " to release the VIPs");
        }
        List<String> absent = seen.configured().stream().filter(id -> !seen.members().contains(id)).toList();
        if (!doubt && (absent.isEmpty() || absent.stream().allMatch(id -> seen.departed().containsKey(id)
                && seen.departed().get(id).stopping() && !seen.departed().get(id).holding()))) {
            // all here, or every absent node stopped on purpose and said it released the VIPs as it left:
            // no one else holds them. A node that was lost may have claimed them after its last word reached us
            majorityWaitSince = 0;
            conflicts.clear();
            return allowed;
        }
        if (answers == null) {
            actions.add(new Action.Probe());
            return null;
        }
        String blocked = stillAnswered(seen, answers, actions);
        if (blocked == null) {
            majorityWaitSince = 0;
            fencedAt = 0;
            return allowed;
        }
        if (!strictMajority || doubt) {
            actions.add(new Action.Recheck(RECHECK)); // a killed node's guard removes its VIPs within ~20 ms
            return new VipPolicy.Verdict(false, blocked);
        }
        if (majorityWaitSince == 0) {
            majorityWaitSince = seen.now();
        }
        if (seen.now() - majorityWaitSince < MAJORITY_PROBE_WAIT.toNanos()) {
            actions.add(new Action.Recheck(RECHECK));
            return new VipPolicy.Verdict(false, blocked + " (with a majority: for " + MAJORITY_PROBE_WAIT.toMillis()
                    + " ms at most)");
        }
        actions.add(new Action.Warn("a VIP still answers elsewhere after " + MAJORITY_PROBE_WAIT.toMillis() + " ms ("
                + blocked + "); this node has a majority, and a node in a minority releases the VIPs: claiming"));
        majorityWaitSince = 0;
        return allowed;
    }

    /** Why the probe's answers forbid a claim now; null when they allow it. */
    private String stillAnswered(Observation seen, List<ProbeAnswer> answers, List<Action> actions) {
        Map<String, String> batonMacs = new HashMap<>();
        Set<String> unseen = new TreeSet<>();
        for (String id : seen.configured()) {
            if (id.equals(seen.self())) {
                continue;
            }
            MemberInfo known = seen.infos().containsKey(id) ? seen.infos().get(id) : seen.departed().get(id);
            if (known == null || known.macs().isEmpty()) {
                unseen.add(id);
            } else {
                known.macs().forEach(mac -> batonMacs.put(mac.toLowerCase(Locale.ROOT), id));
            }
        }
        conflicts.keySet().retainAll(answers.stream().map(ProbeAnswer::vip).toList());
        String conflictBlock = null;
        for (ProbeAnswer answer : answers) {
            Set<String> peers = new TreeSet<>();
            Set<String> foreign = new TreeSet<>();
            for (String mac : answer.macs()) {
                String lower = mac.toLowerCase(Locale.ROOT);
                if (batonMacs.containsKey(lower)) {
                    peers.add(lower + " (" + batonMacs.get(lower) + ")");
                } else {
                    foreign.add(lower);
                }
            }
            if (!peers.isEmpty()) {
                conflicts.remove(answer.vip()); // a conflict is timed from answers without a peer's
                return "VIP " + answer.vip() + " still answers from " + String.join(", ", peers)
                        + ": the active node is alive behind a partition; not claiming";
            }
            if (foreign.isEmpty()) {
                conflicts.remove(answer.vip());
                continue;
            }
            if (!unseen.isEmpty()) {
                return "VIP " + answer.vip() + " still answers from " + String.join(", ", foreign) + ", which may be "
                        + String.join(", ", unseen) + " (never seen by this node); not claiming";
            }
            Conflict before = conflicts.get(answer.vip());
            Conflict conflict = before != null && before.macs().equals(foreign) ? before
                    : new Conflict(Set.copyOf(foreign), answer.iface(), seen.now());
            conflicts.put(answer.vip(), conflict);
            if (seen.now() - conflict.since() < CONFLICT_WAIT.toNanos()) {
                if (conflictBlock == null) {
                    conflictBlock = "VIP " + answer.vip() + " is also answered by " + String.join(", ", foreign)
                            + ", which is no Baton node: an address conflict; claiming it after "
                            + CONFLICT_WAIT.toMillis() + " ms";
                }
            } else {
                actions.add(new Action.Warn("address conflict: VIP " + answer.vip() + " on " + answer.iface()
                        + " is also answered by " + String.join(", ", foreign) + ", which is no Baton node (no member"
                        + " published that MAC); claiming it anyway"));
            }
        }
        return conflictBlock;
    }
}
