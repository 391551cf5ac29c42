package io.baton.host;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
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
    /** How long the output of a program that has exited may stay open (a child of it holding it). */
    private static final long CHILD_OUTPUT_WAIT_MILLIS = 1000;

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
        Finished finished = execute(command, Map.of(), input, timeout, MAX_OUTPUT, debianPackage);
        if (finished.exit() != 0) {
            throw new IOException(String.join(" ", command) + " failed (exit " + finished.exit() + "): "
                    + finished.output().strip());
        }
        return finished.output();
    }

    /** How a program ended: its exit status and the first bytes of what it printed (stdout and stderr). */
    public record Finished(int exit, String output) {
    }

    /**
     * Runs a program to its end or its deadline, whatever it does: input written and output read on
     * threads of their own, at most {@code maxOutput} bytes of output kept (the rest read and
     * dropped), and at the deadline, or when the calling thread is interrupted, the program and its
     * children killed.
     *
     * @param environment added to this process's environment
     * @throws IOException when it cannot start, or did not finish in time (it is killed then)
     */
    public static Finished execute(List<String> command, Map<String, String> environment, String input,
                                   Duration timeout, int maxOutput, String debianPackage) throws IOException {
        Process process;
        try {
            ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
            builder.environment().putAll(environment);
            process = builder.start();
        } catch (IOException e) {
            throw new IOException("cannot run " + command.get(0) + (debianPackage == null ? ""
                    : " (is " + debianPackage + " installed?)") + ": " + e.getMessage(), e);
        }
        String shown = String.join(" ", command);
        Thread writer = daemon("baton-host-in", () -> {
            try (OutputStream stdin = process.getOutputStream()) {
                if (input != null) {
                    stdin.write(input.getBytes(StandardCharsets.UTF_8));
                }
            } catch (IOException e) {
                // the program closed its input (or was killed): its exit status says what happened
            }
        });
        Output output = new Output(process.getInputStream(), maxOutput);
        Thread reader = daemon("baton-host-out", output);
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                kill(process);
                throw new IOException(shown + " did not finish in " + timeout.toMillis() + " ms: killed");
            }
            // the output ends with the program, unless a child it left holds it open: not for long
            reader.join(Math.min(timeout.toMillis(), CHILD_OUTPUT_WAIT_MILLIS));
            if (reader.isAlive()) {
                kill(process);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            kill(process);
            throw new IOException("interrupted while running " + shown + ": killed", e);
        } finally {
            writer.interrupt();
        }
        return new Finished(process.exitValue(), output.text());
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

    /** Reads a process's output to its end, keeping the first bytes of it. */
    private static final class Output implements Runnable {
        private final InputStream in;
        private final int max;
        private final java.io.ByteArrayOutputStream kept = new java.io.ByteArrayOutputStream();
        private boolean cut;

        Output(InputStream in, int max) {
            this.in = in;
            this.max = max;
        }

        @Override
        public void run() {
            byte[] buffer = new byte[8192];
            try {
                int read;
                while ((read = in.read(buffer)) >= 0) {
                    synchronized (this) {
                        int room = max - kept.size();
                        kept.write(buffer, 0, Math.min(room, read));
                        cut |= read > room;
                    }
                }
            } catch (IOException e) {
                // closed when the process was killed
            }
        }

        synchronized String text() {
            return kept.toString(StandardCharsets.UTF_8) + (cut ? "\n(output cut at " + max + " bytes)" : "");
        }
    }

    private static Thread daemon(String name, Runnable work) {
        Thread thread = new Thread(work, name);
        thread.setDaemon(true);
        thread.start();
        return thread;
    }
}
