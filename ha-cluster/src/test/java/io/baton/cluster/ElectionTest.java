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
}
