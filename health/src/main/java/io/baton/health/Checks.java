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
        Duration timeout = target.check().timeout();
        Instant at = Instant.now();
        try {
            CheckResult result = checker.check(target, new Deadline(timeout));
            return new CheckResult(result.up(), result.reason(), at, Duration.between(at, Instant.now()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new CheckResult(false, noAnswer(timeout), at, timeout);
        } catch (Exception e) {
            return new CheckResult(false, describe(e, timeout), at, Duration.between(at, Instant.now()));
        }
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
