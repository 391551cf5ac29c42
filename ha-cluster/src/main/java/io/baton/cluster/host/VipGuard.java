package io.baton.cluster.host;

import io.baton.config.VipConfig;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Removes this node's VIPs when its process dies without cleaning up (kill -9, a crash, the OOM
 * killer), so that a dead node never keeps answering for an address its peer has taken over. A
 * small shell process waits for the JVM to exit ({@code tail --pid}, polling every 20 ms) and then
 * deletes every VIP listed in the held file, which {@link VipManager} keeps current.
 */
public final class VipGuard implements AutoCloseable {

    private static final Logger LOG = LogManager.getLogger(VipGuard.class);

    private final Path heldFile;
    private final Process guard;

    private VipGuard(Path heldFile, Process guard) {
        this.heldFile = heldFile;
        this.guard = guard;
    }

    public static VipGuard start(Path heldFile) throws IOException {
        Files.createDirectories(heldFile.toAbsolutePath().getParent());
        write(heldFile, List.of());
        long pid = ProcessHandle.current().pid();
        String script = "tail --pid=" + pid + " -s 0.02 -f /dev/null; "
                + "while read -r cidr dev; do ip -4 addr del \"$cidr\" dev \"$dev\"; done < '" + heldFile + "'";
        Process guard = new ProcessBuilder("sh", "-c", script)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        LOG.info("VIP guard (pid {}) removes this node's VIPs if it dies without releasing them", guard.pid());
        return new VipGuard(heldFile, guard);
    }

    /** Records what this node holds now. */
    public void held(List<VipConfig> vips) {
        try {
            write(heldFile, vips);
        } catch (IOException e) {
            LOG.error("cannot record held VIPs in {}: {}", heldFile, e.getMessage());
        }
    }

    private static void write(Path file, List<VipConfig> vips) throws IOException {
        String lines = vips.stream().map(vip -> vip.cidr() + " " + vip.iface() + "\n").collect(Collectors.joining());
        Path temporary = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(temporary, lines, StandardCharsets.UTF_8);
        Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** After a clean release: the guard has nothing left to do. */
    @Override
    public void close() {
        held(List.of());
        guard.destroy();
    }
}
