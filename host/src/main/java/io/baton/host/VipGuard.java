package io.baton.host;

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
 * killer), so that a dead node never keeps answering for an address its peer has taken over; and
 * when its process is stopped (SIGSTOP) for longer than failure detection: its kernel would still
 * answer ARP for the VIPs that its frozen JVM cannot serve, and hold up or double the takeover. A
 * small shell process waits for the JVM to exit ({@code tail --pid}, polling every 20 ms) and then
 * deletes every VIP listed in the held file, which {@link VipManager} keeps current.
 */
public final class VipGuard implements AutoCloseable {

    private static final Logger LOG = LogManager.getLogger(VipGuard.class);
    /**
     * How often the guard reads whether the JVM is stopped, and how many reads in a row fence it:
     * 12 x 50 ms, about when the peers remove a stopped node (failure detection's 0.2 s, and 0.5 s
     * more while its kernel still answers: StallGuard; a shorter stop is no failure), well within
     * the 1 s a majority waits for a VIP that a stopped node's kernel still answers for.
     */
    static final String POLL_SECONDS = "0.05";
    static final int STOPPED_POLLS = 12;

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
        Path fenced = fencedMarker(heldFile);
        Files.deleteIfExists(fenced);
        String release = "while read -r cidr dev; do ip -4 addr del \"$cidr\" dev \"$dev\"; done < '" + heldFile + "'";
        // beside the wait for the exit, a watcher reads the JVM's state from /proc (no fork but sleep): stopped
        // (SIGSTOP, state T) for STOPPED_POLLS polls in a row, it removes the VIPs and leaves the marker
        String script = "( n=0; while [ -e /proc/$$ ] && read -r stat < /proc/" + pid + "/stat; do"
                + " case \"${stat##*) }\" in T*|t*) n=$((n+1));; *) n=0;; esac;"
                + " if [ $n -eq " + STOPPED_POLLS + " ]; then " + release + "; : > '" + fenced + "'; fi;"
                + " sleep " + POLL_SECONDS + "; done ) & "
                + "tail --pid=" + pid + " -s 0.02 -f /dev/null; " + release;
        Process guard = new ProcessBuilder("sh", "-c", script)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        LOG.info("VIP guard (pid {}) removes this node's VIPs if it dies without releasing them", guard.pid());
        return new VipGuard(heldFile, guard);
    }

    /**
     * Whether the guard removed the VIPs because this JVM was stopped (SIGSTOP) for longer than
     * {@link #STOPPED_POLLS} polls, since the last call: the node holds nothing any more.
     */
    public boolean fenced() {
        try {
            return Files.deleteIfExists(fencedMarker(heldFile));
        } catch (IOException e) {
            return false;
        }
    }

    private static Path fencedMarker(Path heldFile) {
        return heldFile.resolveSibling(heldFile.getFileName() + ".fenced");
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
