package io.baton.health.check;

import io.baton.health.CheckResult;
import io.baton.health.CheckScripts;
import io.baton.health.CheckTarget;
import io.baton.host.HostCommand;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * {@code external}: runs the operator's script, from the node's trusted directory only ({@link CheckScripts}), with the Loadbalancer.org arguments ($1 VIP, $2 VIP
 * port, $3 real server IP, $4 real server port), also given as environment variables. Exit 0 is
 * up. The host's process runner runs it: at the timeout (or when the health monitor's watchdog
 * interrupts the check) the script is killed together with its children, and of its output only
 * the first {@link #MAX_OUTPUT_READ} bytes are kept (the rest is read and dropped: a script that
 * prints for ever costs no memory and no disk). The script runs with no capability at all, whatever
 * the node has ({@link #DROP_PRIVILEGE}): a check reads the network, it never changes it.
 */
final class ExternalChecker implements Checker {

    private static final int MAX_OUTPUT_SHOWN = 200;
    static final int MAX_OUTPUT_READ = 64 * 1024;

    /**
     * How a script is started without the node's capabilities: {@code setpriv} (util-linux) clears
     * the inheritable and ambient sets (what an unprivileged node under systemd passes on), and
     * when the node may (root, CAP_SETPCAP) the bounding set too, so that even a root node's script
     * holds none; no_new_privs keeps a set-uid program from gaining any back.
     */
    static final List<String> DROP_PRIVILEGE = dropPrivilege();

    private static final Logger LOG = LogManager.getLogger(ExternalChecker.class);

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
        List<String> command = new ArrayList<>(DROP_PRIVILEGE);
        command.addAll(List.of(program.path().toString(), target.vipAddress(), String.valueOf(target.vipPort()),
                target.host(), String.valueOf(target.port())));
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

    private static List<String> dropPrivilege() {
        Path setpriv = Stream.of("/usr/bin/setpriv", "/bin/setpriv").map(Path::of).filter(Files::isExecutable)
                .findFirst().orElse(null);
        if (setpriv == null) {
            LOG.warn("setpriv (util-linux) is missing: external checks run with the node's own privileges");
            return List.of();
        }
        List<String> drop = new ArrayList<>(List.of(setpriv.toString(), "--inh-caps=-all", "--ambient-caps=-all",
                "--no-new-privs"));
        if (mayDropBoundingSet()) {
            drop.add(1, "--bounding-set=-all");
        }
        drop.add("--");
        return List.copyOf(drop);
    }

    /** Whether this process holds CAP_SETPCAP (bit 8 of CapEff), which dropping the bounding set needs. */
    private static boolean mayDropBoundingSet() {
        try {
            return Files.readAllLines(Path.of("/proc/self/status")).stream()
                    .filter(line -> line.startsWith("CapEff:"))
                    .map(line -> new BigInteger(line.substring("CapEff:".length()).strip(), 16))
                    .anyMatch(effective -> effective.testBit(8));
        } catch (IOException | NumberFormatException e) {
            return false;
        }
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
