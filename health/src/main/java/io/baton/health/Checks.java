package io.baton.health;

import io.baton.health.check.Checker;
import io.baton.health.check.Deadline;

import java.io.EOFException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.time.Instant;

/** Runs one check and turns whatever happens into a {@link CheckResult} with a plain reason. */
public final class Checks {

    private Checks() {
    }

    public static CheckResult run(Checker checker, CheckTarget target) {
        return run(checker, target, new Deadline(target.check().timeout()));
    }

    /** Runs the check within {@code deadline}; a check that {@link Deadline#expire} ended says what it was doing. */
    public static CheckResult run(Checker checker, CheckTarget target, Deadline deadline) {
        Duration timeout = target.check().timeout();
        Instant at = Instant.now();
        try {
            CheckResult result = checker.check(target, deadline);
            return new CheckResult(result.up(), result.reason(), at, Duration.between(at, Instant.now()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new CheckResult(false, expired(deadline), at, timeout);
        } catch (Exception e) {
            String reason = deadline.expired() || e instanceof SocketTimeoutException ? expired(deadline)
                    : describe(e, timeout);
            return new CheckResult(false, reason, at, Duration.between(at, Instant.now()));
        }
    }

    /** Why a check that its deadline ended failed: how long, what it was doing, what the server had sent. */
    public static String expired(Deadline deadline) {
        long bytes = deadline.bytesRead();
        return bytes == 0 ? noAnswer(deadline.timeout()) + " (" + deadline.phase() + ")"
                : "no complete answer within " + deadline.timeout().toMillis() + " ms (" + deadline.phase() + "; "
                + bytes + " bytes received)";
    }

    static String noAnswer(Duration timeout) {
        return "no answer within " + timeout.toMillis() + " ms";
    }

    private static String describe(Exception e, Duration timeout) {
        if (e instanceof SocketTimeoutException) {
            return noAnswer(timeout);
        }
        if (e instanceof ConnectException) {
            return "connection refused";
        }
        if (e instanceof NoRouteToHostException) {
            return "no route to host";
        }
        if (e instanceof EOFException) {
            return e.getMessage() == null ? "the server closed the connection" : e.getMessage();
        }
        String message = e.getMessage();
        return message == null ? e.getClass().getSimpleName() : message.replaceAll("\\s+", " ").strip();
    }
}
