package io.baton.appliance;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The built {@code baton.jar} run as its own process, the way an operator or systemd runs it. Its
 * output (stdout and stderr together) goes to a file that the test reads.
 */
public final class BatonProcess implements AutoCloseable {

    private final Process process;
    private final Path output;

    private BatonProcess(Process process, Path output) {
        this.process = process;
        this.output = output;
    }

    /** The jar the build made ({@code baton.jar} system property, set by failsafe). */
    public static Path jar() {
        String jar = System.getProperty("baton.jar");
        if (jar == null || !Files.isRegularFile(Path.of(jar))) {
            throw new IllegalStateException("baton.jar not built: run the integration tests with mvn verify (jar="
                    + jar + ")");
        }
        return Path.of(jar);
    }

    /** The repository root ({@code baton.repository} system property, set by failsafe). */
    public static Path repository() {
        return Path.of(System.getProperty("baton.repository", "..")).toAbsolutePath().normalize();
    }

    public static BatonProcess start(Path workDir, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of("java", "-jar", jar().toString()));
        command.addAll(List.of(args));
        return launch(command, workDir);
    }

    public static BatonProcess launch(List<String> command, Path workDir) throws IOException {
        Path output = Files.createTempFile(workDir, "baton-", ".out");
        Process process = new ProcessBuilder(command)
                .directory(repository().toFile())
                .redirectErrorStream(true)
                .redirectOutput(output.toFile())
                .start();
        return new BatonProcess(process, output);
    }

    /** Runs a command to completion; fails the test if it takes longer than a minute. */
    public static Result run(Path workDir, String... args) throws IOException, InterruptedException {
        try (BatonProcess process = start(workDir, args)) {
            return new Result(process.waitForExit(), process.output());
        }
    }

    /** How a finished command ended. */
    public record Result(int exitCode, String output) {
    }

    /** Writes each process's output to target/DIRECTORY/TEST-N.log, for reading after a failure. */
    public static void saveOutputs(List<BatonProcess> processes, String directory, String test) throws IOException {
        Path logs = Files.createDirectories(Path.of("target", directory));
        for (int i = 0; i < processes.size(); i++) {
            Files.writeString(logs.resolve(test + "-" + i + ".log"), processes.get(i).output());
        }
    }

    /** Waits up to {@code time} for the process to end; true if it did. */
    public boolean exitsWithin(Duration time) throws InterruptedException {
        return process.waitFor(time.toMillis(), TimeUnit.MILLISECONDS);
    }

    public int waitForExit() throws InterruptedException {
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("baton did not finish within 60 s; output:\n" + output());
        }
        return process.exitValue();
    }

    /** Sends SIGKILL: the process dies without cleaning up anything. */
    public void kill() {
        process.destroyForcibly();
    }

    /** Sends SIGTERM, as systemd and docker stop do. */
    public void terminate() {
        process.destroy();
    }

    /** The process's id: the JVM's, when the command execs it (ip netns exec, setpriv, env do). */
    public long pid() {
        return process.pid();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    public String output() {
        try {
            return Files.readString(output);
        } catch (IOException e) {
            return "(cannot read output: " + e.getMessage() + ")";
        }
    }

    @Override
    public void close() {
        // children first: a killed nginx master, for one, leaves its workers serving
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        if (process.isAlive()) {
            process.destroyForcibly();
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
