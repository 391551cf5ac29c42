package io.baton.appliance;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A short run of the chaos soak ({@code bench/chaos.sh}) with the jar under test: a dozen failures
 * of mixed kinds on two and three nodes under wrk load with applies in between, then a busy loop per
 * core and pauses of the active (100 and 400 ms: a stall, not a death). Whatever the timings, there is never more than one
 * holder, no acknowledged apply is lost, and the phases without a failure change no view and no role.
 * Needs root (CI runs as root).
 */
class ChaosIT {

    private static final Pattern FIGURE = Pattern.compile("(\\w+)=(\\d+)");

    @Test
    void aShortChaosSoakNeverHasTwoHoldersLosesNoApplyAndStarvationChangesNothing() throws Exception {
        Path output = Files.createTempFile("baton-chaos", ".log");
        try {
            ProcessBuilder chaos = new ProcessBuilder("bash",
                    BatonProcess.repository().resolve("bench/chaos.sh").toString(), "12")
                    .redirectErrorStream(true)
                    .redirectOutput(output.toFile());
            chaos.environment().putAll(Map.of("BATON_JAR", BatonProcess.jar().toString(), "HOG_SECONDS", "20",
                    "PAUSES", "5", "SEED", "4242"));
            Process run = chaos.start();
            boolean ended = run.waitFor(15, TimeUnit.MINUTES);
            if (!ended) {
                run.descendants().forEach(ProcessHandle::destroy);
                run.destroy();
                run.waitFor(30, TimeUnit.SECONDS);
            }
            String log = Files.readString(output, StandardCharsets.UTF_8);
            assertThat(ended).as("chaos.sh ended within 15 minutes:\n%s", log).isTrue();
            assertThat(run.exitValue()).as("chaos.sh exit status:\n%s", log).isZero();
            List<String> lines = log.lines().filter(line -> line.startsWith("chaos ")).toList();
            assertThat(lines).as(log).hasSize(2);
            lines.forEach(System.out::println);
            Map<String, Long> soak = figures(lines.get(0));
            Map<String, Long> idle = figures(lines.get(1));
            assertThat(soak.get("failures")).as(log).isEqualTo(12);
            assertThat(soak.get("two_holders")).as(log).isZero();
            assertThat(soak.get("lost_applies")).as(log).isZero();
            assertThat(idle.get("spurious_view_changes")).as(log).isZero();
            assertThat(idle.get("spurious_role_changes")).as(log).isZero();
        } finally {
            Files.deleteIfExists(output);
        }
    }

    private static Map<String, Long> figures(String line) throws IOException {
        Map<String, Long> figures = new java.util.HashMap<>();
        Matcher matcher = FIGURE.matcher(line);
        while (matcher.find()) {
            figures.put(matcher.group(1), Long.parseLong(matcher.group(2)));
        }
        return figures;
    }
}
