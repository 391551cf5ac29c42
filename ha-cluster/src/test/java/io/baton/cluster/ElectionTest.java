package io.baton.cluster;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class ElectionTest {

    private static final MemberInfo LB1 = new MemberInfo("lb1", 200, 5, true);
    private static final MemberInfo LB2 = new MemberInfo("lb2", 100, 5, true);

    @Test
    void theHighestPriorityWinsTheFirstElection() {
        Decision decision = Election.decide(Decision.NONE, List.of(LB2, LB1), false);

        assertThat(decision.active()).isEqualTo("lb1");
        assertThat(decision.epoch()).isEqualTo(1);
    }

    @Test
    void tiesGoToTheLowestNodeId() {
        MemberInfo b = new MemberInfo("b", 100, 1, true);
        MemberInfo a = new MemberInfo("a", 100, 1, true);

        assertThat(Election.decide(Decision.NONE, List.of(b, a), false).active()).isEqualTo("a");
    }

    @Test
    void losingTheActiveMovesTheRoleAndRaisesTheEpoch() {
        Decision first = Election.decide(Decision.NONE, List.of(LB1, LB2), false);

        Decision after = Election.decide(first, List.of(LB2), false);

        assertThat(after.active()).isEqualTo("lb2");
        assertThat(after.epoch()).isEqualTo(2);
        assertThat(after.reason()).isEqualTo("lb1 left the cluster");
    }

    @Test
    void aReturningHigherPriorityNodeStaysPassiveWithoutPreempt() {
        Decision lb2Active = new Decision("lb2", 2, "lb1 left the cluster");

        assertThat(Election.decide(lb2Active, List.of(LB1, LB2), false)).isSameAs(lb2Active);
    }

    @Test
    void withPreemptTheHigherPriorityNodeTakesTheRoleBack() {
        Decision lb2Active = new Decision("lb2", 2, "lb1 left the cluster");

        Decision decision = Election.decide(lb2Active, List.of(LB1, LB2), true);

        assertThat(decision.active()).isEqualTo("lb1");
        assertThat(decision.epoch()).isEqualTo(3);
        assertThat(decision.reason()).startsWith("preempt: lb1");
    }

    @Test
    void onlyReadyMembersAreEligibleWhateverRevisionTheyRun() {
        MemberInfo behindLb1 = new MemberInfo("lb1", 200, 4, true);
        MemberInfo startingLb3 = new MemberInfo("lb3", 250, 5, false);
        MemberInfo divergedLb4 = new MemberInfo("lb4", 255, 9, false, false,
                "has a config history that diverged from the cluster's");

        Decision decision = Election.decide(Decision.NONE, List.of(behindLb1, LB2, startingLb3, divergedLb4), false);

        assertThat(decision.active()).isEqualTo("lb1");
    }

    @Test
    void anActiveThatIsAMomentBehindOnReplicationStaysActive() {
        Decision lb1Active = Election.decide(Decision.NONE, List.of(LB1, LB2), false);
        MemberInfo lb2Newer = new MemberInfo("lb2", 100, 6, true);

        Decision decision = Election.decide(lb1Active, List.of(LB1, lb2Newer), false);

        assertThat(decision).isEqualTo(lb1Active);
    }

    @Test
    void anActiveThatStopsIsReplacedAndTheReasonIsItsOwn() {
        Decision lb1Active = Election.decide(Decision.NONE, List.of(LB1, LB2), false);
        MemberInfo lb1Stopping = new MemberInfo("lb1", 200, 5, false, false, "is stopping");

        Decision decision = Election.decide(lb1Active, List.of(lb1Stopping, LB2), false);

        assertThat(decision.active()).isEqualTo("lb2");
        assertThat(decision.epoch()).isEqualTo(2);
        assertThat(decision.reason()).isEqualTo("lb1 is stopping");
    }

    @Test
    void noEligibleMemberMeansNoActiveAndTheEpochStillRises() {
        Decision lb1Active = Election.decide(Decision.NONE, List.of(LB1), false);

        Decision decision = Election.decide(lb1Active, List.of(new MemberInfo("lb1", 200, 5, false)), false);

        assertThat(decision.active()).isNull();
        assertThat(decision.epoch()).isEqualTo(2);
    }

    @Test
    void anUnchangedClusterKeepsTheSameDecision() {
        Decision decision = Election.decide(Decision.NONE, List.of(LB1, LB2), false);

        assertThat(Election.decide(decision, List.of(LB2, LB1), false)).isSameAs(decision);
    }

    // --- the coordinator's round -------------------------------------------------------------

    private static MemberInfo holding(String id, int priority) {
        return new MemberInfo(id, priority, 5, true, true);
    }

    private static Election.Round round(Decision current, long seen, List<MemberInfo> view, boolean merged,
                                        boolean settling) {
        return new Election.Round(current, seen, view, 2, merged, false, settling);
    }

    @Test
    void theMemberThatHoldsTheVipsIsActiveWhateverAPartitionDecided() {
        Decision stale = new Decision("lb1", 4, "lb1 has the highest priority");

        Election.Outcome outcome = Election.coordinate(round(stale, 4, List.of(LB1, holding("lb2", 100)), false,
                false));

        assertThat(outcome.decision().active()).isEqualTo("lb2");
        assertThat(outcome.decision().epoch()).as("another active, another epoch").isEqualTo(5);
    }

    @Test
    void aMergeOfTwoActivesKeepsTheHolderWithTheHighestPriorityAndOutrunsEveryEpoch() {
        Decision mine = new Decision("lb2", 3, "lb1 left the cluster");

        Election.Outcome outcome = Election.coordinate(round(mine, 9,
                List.of(holding("lb2", 100), holding("lb1", 200)), true, false));

        assertThat(outcome.decision().active()).isEqualTo("lb1");
        assertThat(outcome.decision().epoch()).isEqualTo(10);
        assertThat(outcome.decision().reason()).isEqualTo("partitions merged; lb1 stays active");
        assertThat(outcome.warning()).contains("all hold the VIPs after a merge");
    }

    @Test
    void aMergeWhereOneHolderIsNotReadyKeepsTheReadyOne() {
        MemberInfo faultyHolder = new MemberInfo("lb1", 200, 5, false, true, "has no link on eth0");

        Election.Outcome outcome = Election.coordinate(round(new Decision("lb1", 5, ""), 6,
                List.of(faultyHolder, holding("lb2", 100)), true, false));

        assertThat(outcome.decision().active()).isEqualTo("lb2");
        assertThat(outcome.decision().epoch()).isEqualTo(7);
    }

    @Test
    void aMergeWithOneActiveStillRaisesTheEpoch() {
        Decision current = new Decision("lb1", 2, "first");

        Election.Outcome outcome = Election.coordinate(round(current, 2, List.of(holding("lb1", 200), LB2), true,
                false));

        assertThat(outcome.decision()).isEqualTo(new Decision("lb1", 3, "partitions merged; lb1 stays active"));
        assertThat(outcome.warning()).isNull();
    }

    @Test
    void whileTheBootSettlesAHigherPriorityJoinerTakesTheRole() {
        Decision lb2First = new Decision("lb2", 1, "lb2 has the highest priority of the eligible members");

        Election.Outcome settling = Election.coordinate(round(lb2First, 1, List.of(LB2, LB1), false, true));
        Election.Outcome settled = Election.coordinate(round(lb2First, 1, List.of(LB2, LB1), false, false));

        assertThat(settling.decision().active()).isEqualTo("lb1");
        assertThat(settling.everyoneReady()).isTrue();
        assertThat(settled.decision()).isSameAs(lb2First);
    }

    @Test
    void aMergeOfPartitionsThatAllBootElectsByPriority() {
        // started together on a busy host: lb1 timed out its discovery and formed a view of its own,
        // lb2 formed another and took the VIPs; when MERGE3 joins them, priority decides, as at any boot
        Decision lb1Alone = new Decision("lb1", 1, "lb1 has the highest priority of the eligible members");

        Election.Outcome outcome = Election.coordinate(round(lb1Alone, 2, List.of(LB1, holding("lb2", 100)), true,
                true));

        assertThat(outcome.decision().active()).isEqualTo("lb1");
        assertThat(outcome.decision().epoch()).isEqualTo(3);
        assertThat(outcome.decision().reason()).startsWith("partitions merged while the cluster boots; ");
    }

    @Test
    void aMergeWithAMemberThatHasBootedKeepsTheHolder() {
        // lb1 restarted, formed a view of its own for a moment, and merges with lb2, which held the VIPs
        // all along: lb2 is past its boot, so the round does not settle by priority
        Decision lb1Alone = new Decision("lb1", 1, "lb1 has the highest priority of the eligible members");

        Election.Outcome outcome = Election.coordinate(round(lb1Alone, 2, List.of(LB1, holding("lb2", 100)), true,
                false));

        assertThat(outcome.decision().active()).isEqualTo("lb2");
        assertThat(outcome.decision().reason()).isEqualTo("partitions merged; lb2 stays active");
    }

    @Test
    void theBootIsNotSettledWhileAConfiguredNodeIsMissingOrNotReady() {
        Decision first = new Decision("lb1", 1, "");

        assertThat(Election.coordinate(round(first, 1, List.of(LB1), false, true)).everyoneReady()).isFalse();
        assertThat(Election.coordinate(round(first, 1, List.of(LB1, new MemberInfo("lb2", 100, 5, false)), false,
                true)).everyoneReady()).isFalse();
    }

    @Test
    void aCoordinatorBehindOnEpochsDecidesPastTheHighestSeen() {
        Decision old = new Decision("lb1", 2, "");

        Election.Outcome outcome = Election.coordinate(round(old, 6, List.of(new MemberInfo("lb1", 200, 5, false),
                LB2), false, false));

        assertThat(outcome.decision().active()).isEqualTo("lb2");
        assertThat(outcome.decision().epoch()).isEqualTo(7);
    }

    @Test
    void decisionsArriveOutOfOrderAndOnlyNewerOnesAreAdopted() {
        Decision second = new Decision("lb2", 2, "lb1 left the cluster");
        Decision third = new Decision("lb1", 3, "partitions merged; lb1 stays active");

        assertThat(Election.supersedes(third, second)).isTrue();
        assertThat(Election.supersedes(second, third)).isFalse(); // late on the wire
        assertThat(Election.supersedes(third, third)).isFalse();
        assertThat(Election.supersedes(new Decision("lb2", 3, "other partition"), third)).isTrue();
        assertThat(Election.supersedes(Decision.NONE, second)).isFalse();
    }
}
