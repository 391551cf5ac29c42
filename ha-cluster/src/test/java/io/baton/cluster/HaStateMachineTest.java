package io.baton.cluster;

import io.baton.cluster.HaStateMachine.Action;
import io.baton.cluster.HaStateMachine.Observation;
import io.baton.cluster.HaStateMachine.ProbeAnswer;
import io.baton.cluster.HaStateMachine.State;
import io.baton.cluster.HaStateMachine.Step;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** The HA rules step by step, without a network: every input is a value, every output an action. */
class HaStateMachineTest {

    private static final String MAC1 = "02:00:00:00:00:01";
    private static final String MAC2 = "02:00:00:00:00:02";
    private static final String MAC3 = "02:00:00:00:00:03";
    private static final String STRANGER = "02:99:99:99:99:99";
    private static final long MS = 1_000_000L;

    private final HaStateMachine machine = new HaStateMachine();

    /** What lb1 sees; every test changes what it needs. */
    private static final class Seen {
        String self = "lb1";
        Decision decision = new Decision("lb1", 1, "lb1 has the highest priority of the eligible members");
        List<String> members = List.of("lb1", "lb2");
        List<String> configured = List.of("lb1", "lb2");
        Map<String, MemberInfo> infos = new HashMap<>(Map.of(
                "lb1", member("lb1", 200, false, MAC1), "lb2", member("lb2", 100, false, MAC2)));
        Map<String, MemberInfo> departed = new HashMap<>();
        boolean settled = true;
        boolean witness;
        boolean witnessAnswers;
        String linkDown;
        boolean handingOver;
        boolean stopping;
        boolean reannounce;
        long now = 1_000 * MS;
        int drainedConnections;

        Observation get() {
            return new Observation(self, decision, members, configured, infos, departed, settled, witness,
                    witnessAnswers, linkDown, handingOver, stopping, reannounce, now, drainedConnections);
        }

        /** {@code id} leaves the view; its last word was {@code lastWord}. */
        Seen gone(String id, MemberInfo lastWord) {
            members = members.stream().filter(member -> !member.equals(id)).toList();
            infos.remove(id);
            if (lastWord != null) {
                departed.put(id, lastWord);
            }
            return this;
        }
    }

    private static MemberInfo member(String id, int priority, boolean holding, String mac) {
        return new MemberInfo(id, priority, 1, true, holding, null, List.of(mac));
    }

    private static ProbeAnswer answer(String... macs) {
        return new ProbeAnswer("10.0.0.100", "eth0", Set.of(macs));
    }

    private static boolean claims(Step step) {
        return step.actions().stream().anyMatch(Action.Claim.class::isInstance);
    }

    private static boolean releases(Step step) {
        return step.actions().stream().anyMatch(Action.Release.class::isInstance);
    }

    /** Steps once, and once more with {@code answers} if the machine asks for a probe. */
    private Step step(Seen seen, ProbeAnswer... answers) {
        Step step = machine.step(seen.get());
        return step.probes() ? machine.step(seen.get(), List.of(answers)) : step;
    }

    private Step activeWithPeer() {
        Step step = step(new Seen());
        assertThat(claims(step)).isTrue();
        return step;
    }

    @Test
    void theRehearsalAtAStartGoesThroughTheClaimsOfAHandOverAndOfALostPeer() {
        assertThat(HaStateMachine.rehearse()).isEqualTo(2);
    }

    @Test
    void beforeAnyDecisionTheNodeIsStartingAndHoldsNothing() {
        Seen seen = new Seen();
        seen.decision = Decision.NONE;

        Step step = step(seen);

        assertThat(step.state()).isEqualTo(State.STARTING);
        assertThat(step.actions()).isEmpty();
        assertThat(machine.holding()).isFalse();
    }

    @Test
    void theActiveNodeWithEveryPeerPresentClaimsWithoutProbing() {
        Step step = machine.step(new Seen().get());

        assertThat(step.state()).isEqualTo(State.ACTIVE);
        assertThat(step.actions()).containsExactly(new Action.Claim("active with a majority (2 of 2 nodes)"));
        assertThat(machine.holding()).isTrue();
    }

    @Test
    void aClaimWaitsUntilTheViewsDecisionWasMadeKnowingEveryMember() {
        Seen seen = new Seen();
        seen.settled = false;

        Step step = step(seen);

        assertThat(claims(step)).isFalse();
        assertThat(step.verdict()).contains("settle");
        seen.settled = true;
        assertThat(claims(step(seen))).isTrue();
    }

    @Test
    void aHoldingNodeDoesNotClaimAgainOnLaterSteps() {
        activeWithPeer();

        assertThat(step(new Seen()).actions()).isEmpty();
    }

    @Test
    void aPassiveNodeHoldsNothingAndSaysWhoIsActive() {
        Seen seen = new Seen();
        seen.decision = new Decision("lb2", 1, "lb2 has the highest priority");

        Step step = step(seen);

        assertThat(step.state()).isEqualTo(State.PASSIVE);
        assertThat(step.verdict()).isEqualTo("lb2 is active");
        assertThat(step.actions()).isEmpty();
    }

    @Test
    void aNodeThatIsNoLongerActiveReleasesAtOnce() {
        activeWithPeer();
        Seen seen = new Seen();
        seen.decision = new Decision("lb2", 2, "handover");

        Step step = step(seen);

        assertThat(step.actions()).containsExactly(new Action.Release("lb2 is active"));
        assertThat(step.state()).isEqualTo(State.PASSIVE);
    }

    @Test
    void aNewActiveWaitsForTheOldOneToSayItReleased() {
        Seen seen = new Seen();
        seen.infos.put("lb2", member("lb2", 100, true, MAC2));

        Step step = step(seen);

        assertThat(claims(step)).isFalse();
        assertThat(step.verdict()).isEqualTo("waiting for lb2 to release the VIPs");
        seen.infos.put("lb2", member("lb2", 100, false, MAC2));
        assertThat(claims(step(seen))).isTrue();
    }

    @Test
    void aFrozenActiveStillInTheViewBlocksTheClaimAndThenItsArpAnswerDoes() {
        // lb2 was active and froze: while in the view it says it holds; once suspected, its kernel still answers ARP
        Seen seen = new Seen();
        seen.witness = true;
        seen.infos.put("lb2", member("lb2", 100, true, MAC2));
        assertThat(claims(step(seen))).isFalse();

        seen.gone("lb2", member("lb2", 100, true, MAC2));
        seen.witnessAnswers = true;
        Step step = step(seen, answer(MAC2));

        assertThat(claims(step)).isFalse();
        assertThat(step.verdict()).contains("still answers from " + MAC2 + " (lb2)");
        assertThat(step.actions()).contains(new Action.Recheck(HaStateMachine.RECHECK));
        seen.now += 10_000 * MS; // in exact half, the wait has no end: lb2 may be alive behind a cut link
        assertThat(claims(step(seen, answer(MAC2)))).isFalse();
        // lb2's guard removed the VIP (its JVM died): no answer
        assertThat(claims(step(seen, answer()))).isTrue();
    }

    @Test
    void absentNodesThatStoppedOnPurposeHoldingNothingNeedNoProbe() {
        Seen seen = new Seen();
        seen.gone("lb2", new MemberInfo("lb2", 100, 1, false, false, MemberInfo.STOPPING, List.of(MAC2)));

        Step step = machine.step(seen.get());

        assertThat(step.probes()).isFalse();
        assertThat(claims(step)).isTrue();
    }

    @Test
    void aLostNodesLastWordDoesNotSpareTheProbe() {
        // lb2 was cut off before it claimed: its last word says it holds nothing, and it may hold them by now
        Seen seen = new Seen();
        seen.witness = true;
        seen.witnessAnswers = true;
        seen.gone("lb2", member("lb2", 100, false, MAC2));

        Step first = machine.step(seen.get());
        assertThat(first.actions()).containsExactly(new Action.Probe());

        Step step = machine.step(seen.get(), List.of(answer(MAC2)));
        assertThat(claims(step)).isFalse();
        assertThat(step.verdict()).contains("(lb2)");
    }

    @Test
    void afterAFenceTheNodeClaimsAgainOnlyOnADecisionAfterTheSettleOrAProbe() {
        activeWithPeer();
        Seen seen = new Seen();

        Step fence = machine.fenced(seen.get());
        assertThat(fence.actions()).containsExactly(
                new Action.Release("the VIP guard removed the VIPs while this node was stopped"));
        assertThat(machine.holding()).isFalse();

        seen.now += 500 * MS; // the view it resumed with still says it is active with its peer
        Step stale = step(seen);
        assertThat(claims(stale)).isFalse();
        assertThat(stale.verdict()).contains("waiting for the cluster's next decision");

        // a decision within the settle may be this node's own, as the coordinator of its stale view (the soak:
        // lb2 resumed, decided for itself 10 ms later and claimed while lb1 held the VIPs)
        seen.decision = new Decision("lb1", 2, "partitions merged; lb1 stays active");
        assertThat(claims(step(seen))).isFalse();

        seen.now += HaStateMachine.FENCE_SETTLE.toNanos();
        assertThat(machine.step(seen.get()).actions()).as("that decision is not the cluster's next one")
                .containsExactly(new Action.Probe());
        seen.decision = new Decision("lb1", 3, "lb1 has the highest priority");
        assertThat(claims(step(seen))).isTrue();
    }

    @Test
    void afterTheFenceSettlesAClaimWaitsForAProbeThatFindsNoPeerWithoutBound() {
        activeWithPeer();
        Seen seen = new Seen(); // a stale view: lb2 looks present and not holding, but it took over meanwhile
        machine.fenced(seen.get());

        seen.now += HaStateMachine.FENCE_SETTLE.toNanos();
        Step probe = machine.step(seen.get());
        assertThat(probe.actions()).containsExactly(new Action.Probe()); // although every member is in the view

        seen.now += 60_000 * MS; // a majority's bound does not apply: this node's picture is stale
        Step blocked = step(seen, answer(MAC2));
        assertThat(claims(blocked)).isFalse();
        assertThat(blocked.verdict()).contains("(lb2)");

        assertThat(claims(step(seen, answer()))).isTrue(); // a lone node, no one else answering: it claims
    }

    @Test
    void aPairsLoneSurvivorWithoutWitnessTakesOver() {
        Seen seen = new Seen();
        seen.gone("lb2", member("lb2", 100, false, MAC2));

        Step step = step(seen);

        assertThat(claims(step)).isTrue();
        assertThat(step.verdict()).contains("no witness configured");
    }

    @Test
    void inExactHalfTheWitnessBreaksTheTie() {
        Seen seen = new Seen();
        seen.witness = true;
        seen.gone("lb2", member("lb2", 100, false, MAC2));

        Step without = step(seen);
        assertThat(claims(without)).isFalse();
        assertThat(without.verdict()).contains("witness does not answer");

        seen.witnessAnswers = true;
        assertThat(claims(step(seen))).isTrue();

        seen.witnessAnswers = false; // the witness goes away: this node may be the one cut off
        Step lost = step(seen);
        assertThat(releases(lost)).isTrue();
    }

    @Test
    void aStrictMajorityHoldsWhateverTheWitnessSays() {
        Seen seen = threeNodes();
        seen.witness = true;
        seen.witnessAnswers = false;
        seen.gone("lb3", member("lb3", 50, false, MAC3));

        Step step = step(seen);

        assertThat(claims(step)).isTrue();
        assertThat(step.verdict()).isEqualTo("active with a majority (2 of 3 nodes)");
    }

    @Test
    void anActiveCutIntoAMinorityReleasesAtOnceEvenWithTheWitness() {
        Seen seen = threeNodes();
        seen.witness = true;
        seen.witnessAnswers = true;
        assertThat(claims(step(seen))).isTrue();

        seen.gone("lb2", null).gone("lb3", null);
        Step step = step(seen);

        assertThat(releases(step)).isTrue();
        assertThat(step.verdict()).startsWith("active in a minority (1 of 3 nodes)");
    }

    @Test
    void halfOfAnEvenClusterWithoutWitnessHoldsNothing() {
        Seen seen = new Seen();
        seen.configured = List.of("lb1", "lb2", "lb3", "lb4");
        seen.gone("lb2", null);
        seen.members = List.of("lb1", "lb3");
        seen.infos.put("lb3", member("lb3", 50, false, MAC3));

        Step step = step(seen);

        assertThat(claims(step)).isFalse();
        assertThat(step.verdict()).contains("no witness to break the tie");
    }

    @Test
    void withAMajorityAPeersStaleArpAnswerHoldsTheClaimUpForABoundedTime() {
        Seen seen = threeNodes();
        seen.gone("lb3", null);
        seen.departed.put("lb3", member("lb3", 50, true, MAC3)); // it held the VIPs, then vanished

        Step first = step(seen, answer(MAC3));
        assertThat(claims(first)).isFalse();
        assertThat(first.verdict()).contains("with a majority: for 1000 ms at most");

        seen.now += 999 * MS;
        assertThat(claims(step(seen, answer(MAC3)))).isFalse();

        seen.now += 2 * MS;
        Step last = step(seen, answer(MAC3));
        assertThat(claims(last)).isTrue();
        assertThat(last.actions()).anyMatch(action -> action instanceof Action.Warn warn
                && warn.message().contains("claiming"));
    }

    @Test
    void aForeignArpAnswerIsAConflictThatDelaysTheClaimBoundedly() {
        Seen seen = new Seen();
        seen.gone("lb2", member("lb2", 100, true, MAC2)); // killed while active

        Step first = step(seen, answer(STRANGER));
        assertThat(claims(first)).isFalse();
        assertThat(first.verdict()).contains("no Baton node: an address conflict");
        assertThat(machine.conflicts()).containsOnlyKeys("10.0.0.100");
        assertThat(machine.conflicts().get("10.0.0.100").macs()).containsExactly(STRANGER);

        seen.now += HaStateMachine.CONFLICT_WAIT.toNanos();
        Step claim = step(seen, answer(STRANGER));
        assertThat(claims(claim)).isTrue();
        assertThat(claim.actions()).anyMatch(action -> action instanceof Action.Warn warn
                && warn.message().startsWith("address conflict: VIP 10.0.0.100"));
        assertThat(machine.conflicts()).containsOnlyKeys("10.0.0.100"); // still shown in the status
    }

    @Test
    void aPeersAnswerBesideAStrangersBlocksAsAPeersAnswer() {
        Seen seen = new Seen();
        seen.witness = true;
        seen.witnessAnswers = true;
        seen.gone("lb2", member("lb2", 100, true, MAC2));

        seen.now += 10_000 * MS;
        Step step = step(seen, answer(STRANGER, MAC2.toUpperCase()));

        assertThat(claims(step)).isFalse();
        assertThat(step.verdict()).contains("(lb2)");
    }

    @Test
    void aForeignAnswerWhileAConfiguredNodeWasNeverSeenBlocks() {
        Seen seen = new Seen();
        seen.gone("lb2", null); // never heard from: its MAC is unknown

        seen.now += 10_000 * MS;
        Step step = step(seen, answer(STRANGER));

        assertThat(claims(step)).isFalse();
        assertThat(step.verdict()).contains("may be lb2 (never seen by this node)");
    }

    @Test
    void aConflictIsForgottenOnceTheStrangerIsQuiet() {
        Seen seen = new Seen();
        seen.gone("lb2", member("lb2", 100, true, MAC2));
        step(seen, answer(STRANGER));
        assertThat(machine.conflicts()).isNotEmpty();

        step(seen, answer());

        assertThat(machine.conflicts()).isEmpty();
    }

    @Test
    void aFlappingLinkReleasesOnEveryDownAndClaimsOnlyWhileUp() {
        activeWithPeer();
        Seen seen = new Seen();

        seen.linkDown = "eth0";
        Step down = step(seen);
        assertThat(down.state()).isEqualTo(State.FAULT);
        assertThat(down.actions()).containsExactly(new Action.Release("FAULT: link down on eth0"));

        assertThat(step(seen).actions()).isEmpty(); // still down: nothing more to do

        seen.linkDown = null;
        assertThat(claims(step(seen))).isTrue();

        seen.linkDown = "eth0";
        assertThat(releases(step(seen))).isTrue();
        assertThat(machine.holding()).isFalse();
    }

    private static boolean drains(Step step) {
        return step.actions().stream().anyMatch(Action.Drain.class::isInstance);
    }

    @Test
    void aHandoverWithAReadyPeerDrainsUntilThePeerHoldsTheVips() {
        activeWithPeer();
        Seen seen = new Seen();
        seen.handingOver = true;

        Step step = step(seen);

        assertThat(step.state()).isEqualTo(State.HANDING_OVER);
        assertThat(drains(step)).isTrue();
        assertThat(releases(step)).isFalse(); // make before break: the VIPs are still served here
        assertThat(machine.holding()).isFalse(); // and the cluster hears that this node holds none
        assertThat(machine.draining()).isTrue();

        seen.now += 100 * MS; // the peer is named but has not claimed yet: the drain goes on
        seen.decision = new Decision("lb2", 2, "lb1 handed the active role over");
        step = step(seen);
        assertThat(releases(step)).isFalse();
        assertThat(step.actions()).contains(new Action.Recheck(HaStateMachine.RECHECK));

        seen.infos.put("lb2", member("lb2", 100, true, MAC2));
        step = step(seen);
        assertThat(releases(step)).as("a handshake in flight at the switch completes here").isFalse();
        assertThat(step.verdict()).contains("lb2 holds the VIPs now: serving the connections still here");

        seen.now += HaStateMachine.LINGER_MIN.toNanos();
        step = step(seen);
        assertThat(releases(step)).isTrue();
        assertThat(step.verdict()).contains("lb2 holds the VIPs now");
        assertThat(machine.draining()).isFalse();
        assertThat(step(seen).actions()).isEmpty();
    }

    /** The peer holds the VIPs: this node serves its own connections on until they end, within a bound. */
    @Test
    void afterTheHandoverTheOldHolderServesItsConnectionsUntilTheyEnd() {
        activeWithPeer();
        Seen seen = new Seen();
        seen.stopping = true;
        assertThat(drains(step(seen))).isTrue();
        seen.infos.put("lb2", member("lb2", 100, true, MAC2));
        seen.decision = new Decision("lb2", 2, "lb1 is stopping");
        seen.drainedConnections = 3;
        assertThat(releases(step(seen))).isFalse();

        seen.now += HaStateMachine.LINGER_MIN.toNanos() + MS;
        Step step = step(seen);
        assertThat(releases(step)).as("three connections are still served here").isFalse();
        assertThat(step.verdict()).contains("serving the 3 connections still here (lb2 forwards their packets)");
        assertThat(step.state()).isEqualTo(State.STOPPING);

        seen.drainedConnections = 0;
        assertThat(releases(step(seen))).as("the last one ended").isTrue();
    }

    @Test
    void connectionsThatDoNotEndAreClosedAfterTheLingerLimit() {
        activeWithPeer();
        Seen seen = new Seen();
        seen.handingOver = true;
        assertThat(drains(step(seen))).isTrue();
        seen.handingOver = false; // baton failover returned: this node is passive, and lingers
        seen.decision = new Decision("lb2", 2, "lb1 handed the active role over");
        seen.infos.put("lb2", member("lb2", 100, true, MAC2));
        seen.drainedConnections = 64;
        Step step = step(seen);
        assertThat(releases(step)).isFalse();
        assertThat(step.state()).isEqualTo(State.PASSIVE);

        seen.now += HaStateMachine.LINGER_LIMIT.toNanos() - MS;
        assertThat(releases(step(seen))).isFalse();
        seen.now += 2 * MS;
        step = step(seen);
        assertThat(releases(step)).isTrue();
        assertThat(step.actions()).anyMatch(action -> action instanceof Action.Warn warn
                && warn.message().contains("64 connection(s) still open"));
    }

    @Test
    void theNewHolderLostDuringTheLingerMakesThisNodeTakeTheVipsBack() {
        activeWithPeer();
        Seen seen = new Seen();
        seen.handingOver = true;
        assertThat(drains(step(seen))).isTrue();
        seen.handingOver = false;
        seen.decision = new Decision("lb2", 2, "lb1 handed the active role over");
        seen.infos.put("lb2", member("lb2", 100, true, MAC2));
        seen.drainedConnections = 2;
        assertThat(releases(step(seen))).isFalse();

        seen.gone("lb2", null);
        seen.decision = new Decision("lb1", 3, "lb2 left the cluster");
        Step step = step(seen, answer());

        assertThat(claims(step)).isTrue();
        assertThat(machine.holding()).isTrue();
        assertThat(machine.draining()).isFalse();
    }

    @Test
    void aDrainThatNoPeerEndsReleasesAfterItsLimit() {
        activeWithPeer();
        Seen seen = new Seen();
        seen.stopping = true;
        assertThat(drains(step(seen))).isTrue();

        seen.now += HaStateMachine.DRAIN_LIMIT.toNanos() - MS;
        assertThat(releases(step(seen))).isFalse();

        seen.now += 2 * MS;
        Step step = step(seen);
        assertThat(releases(step)).isTrue();
        assertThat(step.actions()).anyMatch(action -> action instanceof Action.Warn warn
                && warn.message().contains("no peer claimed the VIPs"));
    }

    @Test
    void aHandoverThatEndsWithTheRoleStillHereTakesTheDrainedVipsBack() {
        activeWithPeer();
        Seen seen = new Seen();
        seen.handingOver = true;
        assertThat(drains(step(seen))).isTrue();

        seen.handingOver = false; // no peer took over in time: the decision still names lb1
        Step step = step(seen);

        assertThat(claims(step)).isTrue();
        assertThat(machine.draining()).isFalse();
        assertThat(machine.holding()).isTrue();
    }

    @Test
    void aHandoverThatEndsWithTheRoleElsewhereReleasesTheDrainedVips() {
        activeWithPeer();
        Seen seen = new Seen();
        seen.handingOver = true;
        assertThat(drains(step(seen))).isTrue();

        seen.handingOver = false;
        seen.decision = new Decision("lb2", 2, "lb1 handed the active role over");
        assertThat(releases(step(seen))).isTrue();
        assertThat(machine.draining()).isFalse();
    }

    @Test
    void withoutAReadyPeerStoppingReleasesAtOnce() {
        activeWithPeer();
        Seen seen = new Seen();
        seen.stopping = true;
        seen.infos.put("lb2", new MemberInfo("lb2", 100, 1, false, false, "has no link on eth0", List.of(MAC2)));

        Step step = step(seen);

        assertThat(step.state()).isEqualTo(State.STOPPING);
        assertThat(releases(step)).isTrue();
        assertThat(drains(step)).isFalse();
    }

    @Test
    void aLinkLostDuringADrainReleasesAtOnce() {
        activeWithPeer();
        Seen seen = new Seen();
        seen.stopping = true;
        assertThat(drains(step(seen))).isTrue();

        seen.linkDown = "eth0";
        Step step = step(seen);
        assertThat(releases(step)).isTrue();
        assertThat(machine.draining()).isFalse();
    }

    @Test
    void aFenceDuringADrainReleases() {
        activeWithPeer();
        Seen seen = new Seen();
        seen.stopping = true;
        assertThat(drains(step(seen))).isTrue();

        assertThat(machine.fenced(seen.get()).actions()).anyMatch(Action.Release.class::isInstance);
        assertThat(machine.draining()).isFalse();
    }

    @Test
    void afterAMergeTheHolderAnnouncesTheVipsAgain() {
        activeWithPeer();
        Seen seen = new Seen();
        seen.reannounce = true;

        assertThat(step(seen).actions()).containsExactly(new Action.Announce());
    }

    @Test
    void aMergeThatNamesAnotherActiveReleasesAndDoesNotAnnounce() {
        activeWithPeer();
        Seen seen = new Seen();
        seen.reannounce = true;
        seen.decision = new Decision("lb2", 7, "partitions merged; lb2 stays active");

        Step step = step(seen);

        assertThat(step.actions()).containsExactly(new Action.Release("lb2 is active"));
    }

    @Test
    void aRecheckIsAskedWhileAPeerStillAnswersSoAGuardsReleaseIsSeenSoon() {
        Seen seen = new Seen();
        seen.witness = true;
        seen.witnessAnswers = true;
        seen.gone("lb2", member("lb2", 100, true, MAC2));

        Step step = step(seen, answer(MAC2));

        assertThat(step.actions()).containsExactly(new Action.Recheck(Duration.ofMillis(50)));
    }

    private static Seen threeNodes() {
        Seen seen = new Seen();
        seen.members = List.of("lb1", "lb2", "lb3");
        seen.configured = List.of("lb1", "lb2", "lb3");
        seen.infos.put("lb3", member("lb3", 50, false, MAC3));
        return seen;
    }
}
