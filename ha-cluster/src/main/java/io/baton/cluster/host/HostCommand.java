package io.baton.cluster.host;

import io.baton.cluster.DaemonThreads;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs a host tool ({@code ip}, {@code nft}) and returns what it printed; a failure names the
 * command and its output. The deadline fires whatever the tool does: its input is written and its
 * output read on threads of their own (a tool that reads nothing, or prints for ever, cannot hold
 * the caller), at most {@link #MAX_OUTPUT} bytes of output are kept, and at the deadline the tool
 * and its children are killed.
 */
public final class HostCommand {

    /** How long a host tool may run: {@code nft} replacing a large table takes well under a second. */
    public static final Duration TIMEOUT = Duration.ofSeconds(10);
    /** Output kept: enough for {@code nft list} of Baton's tables and any error message. */
    static final int MAX_OUTPUT = 4 << 20;

    private HostCommand() {
    }

    /**
     * @param input    written to the command's standard input; null for none
     * @param debianPackage the Debian package that provides the command, named when it is missing
     */
    public static String run(List<String> command, String input, String debianPackage) throws IOException {
        return run(command, input, debianPackage, TIMEOUT);
    }

    public static String run(List<String> command, String input, String debianPackage, Duration timeout)
            throws IOException {
        Process process;
        try {
            process = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new IOException("cannot run " + command.get(0) + " (is " + debianPackage + " installed?): "
                    + e.getMessage(), e);
        }
        String shown = String.join(" ", command);
        Thread writer = DaemonThreads.start("baton-host-in", () -> {
            try (OutputStream stdin = process.getOutputStream()) {
                if (input != null) {
                    stdin.write(input.getBytes(StandardCharsets.UTF_8));
                }
            } catch (IOException e) {
                // the tool closed its input (or was killed): its exit status says what happened
            }
        });
        Output output = new Output(process.getInputStream());
        Thread reader = DaemonThreads.start("baton-host-out", output);
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                kill(process);
                throw new IOException(shown + " did not finish in " + timeout.toMillis() + " ms: killed");
            }
            reader.join(timeout.toMillis()); // the output ends with the process (unless a child holds it)
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            kill(process);
            throw new IOException("interrupted while running " + shown, e);
        } finally {
            writer.interrupt();
        }
        String text = output.text();
        if (process.exitValue() != 0) {
            throw new IOException(shown + " failed (exit " + process.exitValue() + "): " + text.strip());
        }
        return text;
    }

    private static void kill(Process process) {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        try {
            process.getInputStream().close();
        } catch (IOException e) {
            // gone
        }
    }

    /** Reads a process's output to its end, keeping the first {@link #MAX_OUTPUT} bytes. */
    private static final class Output implements Runnable {
        private final InputStream in;
        private final java.io.ByteArrayOutputStream kept = new java.io.ByteArrayOutputStream();
        private boolean cut;

        Output(InputStream in) {
            this.in = in;
        }

        @Override
        public void run() {
            byte[] buffer = new byte[8192];
            try {
                int read;
                while ((read = in.read(buffer)) >= 0) {
                    synchronized (this) {
                        int room = MAX_OUTPUT - kept.size();
                        kept.write(buffer, 0, Math.min(room, read));
                        cut |= read > room;
                    }
                }
            } catch (IOException e) {
                // closed when the process was killed
            }
        }

        synchronized String text() {
            return kept.toString(StandardCharsets.UTF_8) + (cut ? "\n(output cut at " + MAX_OUTPUT + " bytes)" : "");
        }
    }
}
