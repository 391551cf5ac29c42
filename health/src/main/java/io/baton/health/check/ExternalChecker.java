package io.baton.health.check;

import io.baton.health.CheckResult;
import io.baton.health.CheckTarget;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * {@code external}: runs the operator's script with the Loadbalancer.org arguments ($1 VIP, $2 VIP
 * port, $3 real server IP, $4 real server port), also given as environment variables. Exit 0 is
 * up. At the timeout the script is killed together with its children.
 */
final class ExternalChecker implements Checker {

    private static final int MAX_OUTPUT_SHOWN = 200;

    @Override
    public CheckResult check(CheckTarget target, Deadline deadline) throws Exception {
        List<String> command = List.of(target.check().script(), target.vipAddress(), String.valueOf(target.vipPort()),
                target.host(), String.valueOf(target.port()));
        Path output = Files.createTempFile("baton-check-", ".out");
        try {
            ProcessBuilder builder = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(output.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
            Map<String, String> environment = builder.environment();
            environment.put("VIP", target.vipAddress());
            environment.put("VPORT", String.valueOf(target.vipPort()));
            environment.put("RIP", target.host());
            environment.put("RPORT", String.valueOf(target.port()));
            environment.put("BATON_SERVICE", target.service());
            environment.put("BATON_SERVER", target.server());
            Process process = builder.start();
            try {
                if (!process.waitFor(deadline.remainingMillisOrZero(), TimeUnit.MILLISECONDS)) {
                    return CheckResult.down("script " + target.check().script() + " killed after "
                            + deadline.timeout().toMillis() + " ms");
                }
            } finally {
                if (process.isAlive()) {
                    // children first: once the script is gone they are no longer its descendants
                    process.descendants().forEach(ProcessHandle::destroyForcibly);
                    process.destroyForcibly();
                }
            }
            String said = firstLine(output);
            int exit = process.exitValue();
            return exit == 0 ? CheckResult.up("script exit 0" + said)
                    : CheckResult.down("script exit " + exit + said);
        } finally {
            Files.deleteIfExists(output);
        }
    }

    private static String firstLine(Path output) throws java.io.IOException {
        String text = new String(Files.readAllBytes(output), StandardCharsets.UTF_8).strip();
        if (text.isEmpty()) {
            return "";
        }
        String line = text.lines().findFirst().orElse("");
        return ": " + (line.length() > MAX_OUTPUT_SHOWN ? line.substring(0, MAX_OUTPUT_SHOWN) + "..." : line);
    }
}
