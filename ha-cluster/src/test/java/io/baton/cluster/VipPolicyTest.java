package io.baton.cluster;

import io.baton.host.Witness;
import io.baton.config.HostPort;
import org.junit.jupiter.api.Test;

import java.net.ServerSocket;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

class VipPolicyTest {

    private static final Decision LB1_ACTIVE = new Decision("lb1", 3, "test");

    @Test
    void onlyTheActiveNodeHoldsVips() {
        assertThat(VipPolicy.decide("lb2", LB1_ACTIVE, 2, 2, false, false).hold()).isFalse();
        assertThat(VipPolicy.decide("lb1", LB1_ACTIVE, 2, 2, false, false).hold()).isTrue();
    }

    @Test
    void exactlyHalfHoldsVipsOnlyWhileTheWitnessAnswers() {
        assertThat(VipPolicy.decide("lb1", LB1_ACTIVE, 1, 2, true, true).hold()).isTrue();
        VipPolicy.Verdict cutOff = VipPolicy.decide("lb1", LB1_ACTIVE, 1, 2, true, false);
        assertThat(cutOff.hold()).isFalse();
        assertThat(cutOff.reason()).contains("witness does not answer");
        assertThat(VipPolicy.decide("lb1", LB1_ACTIVE, 2, 4, true, true).hold()).as("2 of 4, witness").isTrue();
        assertThat(VipPolicy.decide("lb1", LB1_ACTIVE, 2, 4, true, false).hold()).as("2 of 4, no answer").isFalse();
        assertThat(VipPolicy.decide("lb1", LB1_ACTIVE, 2, 3, true, false).hold()).as("2 of 3 is a majority").isTrue();
    }

    @Test
    void aStrictMinorityReleasesAtOnceEvenWhileTheWitnessAnswers() {
        VipPolicy.Verdict oneOfThree = VipPolicy.decide("lb1", LB1_ACTIVE, 1, 3, true, true);
        assertThat(oneOfThree.hold()).isFalse();
        assertThat(oneOfThree.reason()).contains("minority (1 of 3 nodes)").contains("majority side takes over");
        assertThat(VipPolicy.decide("lb1", LB1_ACTIVE, 2, 5, true, true).hold()).isFalse();
        assertThat(VipPolicy.decide("lb1", LB1_ACTIVE, 1, 3, false, false).hold()).isFalse();
    }

    @Test
    void withoutAWitnessTheLoneSurvivorOfAPairTakesOverButHalfOfALargerClusterDoesNot() {
        assertThat(VipPolicy.decide("lb1", LB1_ACTIVE, 1, 2, false, false).hold()).isTrue();
        VipPolicy.Verdict half = VipPolicy.decide("lb1", LB1_ACTIVE, 2, 4, false, false);
        assertThat(half.hold()).isFalse();
        assertThat(half.reason()).contains("no witness to break the tie");
    }

    @Test
    void aTcpWitnessIsReachedByConnecting() throws Exception {
        try (ServerSocket listening = new ServerSocket(0)) {
            assertThat(new Witness(new HostPort("127.0.0.1", listening.getLocalPort()), Duration.ofSeconds(1))
                    .reachable()).isTrue();
        }
        int closed;
        try (ServerSocket probe = new ServerSocket(0)) {
            closed = probe.getLocalPort();
        }
        assertThat(new Witness(new HostPort("127.0.0.1", closed), Duration.ofSeconds(1)).reachable()).isFalse();
    }

    @Test
    void anIcmpWitnessIsPinged() {
        assertThat(new Witness(new HostPort("127.0.0.1", null), Duration.ofSeconds(1)).reachable()).isTrue();
    }
}
