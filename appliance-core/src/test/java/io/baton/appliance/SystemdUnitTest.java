package io.baton.appliance;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * packaging/baton.service as systemd's own analysis rates it ({@code systemd-analyze security
 * --offline=true}, from Debian's systemd package, which ./run-tests installs), and the privileges
 * it gives are those {@link LeastPrivilegeIT} runs a pair with.
 */
class SystemdUnitTest {

    private static final Path UNIT = BatonProcess.repository().resolve("packaging/baton.service");

    @Test
    void systemdRatesTheUnitsExposureAtMostFour() throws Exception {
        Process analyze = new ProcessBuilder("systemd-analyze", "security", "--offline=true", "--no-pager",
                UNIT.toString()).redirectErrorStream(true).start();
        String said = new String(analyze.getInputStream().readAllBytes());
        analyze.waitFor();

        Matcher exposure = Pattern.compile("Overall exposure level for baton.service: (\\d+\\.\\d)").matcher(said);
        assertThat(exposure.find()).as(said).isTrue();
        assertThat(Double.parseDouble(exposure.group(1))).as(said).isLessThanOrEqualTo(4.0);
    }

    @Test
    void theUnitGivesExactlyTheCapabilitiesTheLeastPrivilegeTestRunsWith() throws Exception {
        String unit = Files.readString(UNIT);
        String three = "CAP_NET_ADMIN CAP_NET_RAW CAP_NET_BIND_SERVICE";
        assertThat(NamespaceNodes.CAPABILITIES).isEqualTo("-all,+net_admin,+net_raw,+net_bind_service");
        assertThat(unit).contains("\nCapabilityBoundingSet=" + three + "\n").contains("\nAmbientCapabilities=" + three + "\n")
                .contains("\nNoNewPrivileges=yes\n").contains("\nUser=baton\n").contains("\nKillMode=process\n");
    }
}
