package io.baton.health.check;

import io.baton.health.CheckResult;
import io.baton.health.CheckScripts;
import io.baton.health.CheckTarget;
import io.baton.host.HostCommand;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * {@code external}: runs the operator's script, from the node's trusted directory only ({@link CheckScripts}), with the Loadbalancer.org arguments ($1 VIP, $2 VIP
 * port, $3 real server IP, $4 real server port), also given as environment variables. Exit 0 is
 * up. The host's process runner runs it: at the timeout (or when the health monitor's watchdog
 * interrupts the check) the script is killed together with its children, and of its output only
 * the first {@link #MAX_OUTPUT_READ} bytes are kept (the rest is read and dropped: a script that
 * prints for ever costs no memory and no disk).
 */
final class ExternalChecker implements Checker {

    private static final int MAX_OUTPUT_SHOWN = 200;
    static final int MAX_OUTPUT_READ = 64 * 1024;

    private final CheckScripts scripts;

    ExternalChecker(CheckScripts scripts) {
        this.scripts = scripts;
    }

    @Override
    public CheckResult check(CheckTarget target, Deadline deadline) throws Exception {
        String script = target.check().script();
        CheckScripts.Resolved program;
        try {
            program = scripts.resolve(script);
        } catch (IOException refused) {
            return CheckResult.down("script " + script + " not run: it " + refused.getMessage());
        }
        List<String> command = List.of(program.path().toString(), target.vipAddress(), String.valueOf(target.vipPort()),
                target.host(), String.valueOf(target.port()));
        Map<String, String> environment = Map.of(
                "VIP", target.vipAddress(),
                "VPORT", String.valueOf(target.vipPort()),
                "RIP", target.host(),
                "RPORT", String.valueOf(target.port()),
                "BATON_SERVICE", target.service(),
                "BATON_SERVER", target.server());
        deadline.phase("waiting for script " + script);
        HostCommand.Finished finished;
        try {
            finished = HostCommand.execute(command, environment, "",
                    Duration.ofMillis(Math.max(1, deadline.remainingMillisOrZero())), MAX_OUTPUT_READ, null);
        } catch (IOException e) {
            if (e.getMessage().contains("did not finish") || e.getMessage().startsWith("interrupted")) {
                return CheckResult.down("script " + script + " killed after " + deadline.timeout().toMillis() + " ms");
            }
            throw e;
        }
        String said = firstLine(finished.output());
        return finished.exit() == 0 ? CheckResult.up("script exit 0" + said)
                : CheckResult.down("script exit " + finished.exit() + said);
    }

    private static String firstLine(String output) {
        String text = output.strip();
        if (text.isEmpty()) {
            return "";
        }
        String line = text.lines().findFirst().orElse("");
        return ": " + (line.length() > MAX_OUTPUT_SHOWN ? line.substring(0, MAX_OUTPUT_SHOWN) + "..." : line);
    }
}
