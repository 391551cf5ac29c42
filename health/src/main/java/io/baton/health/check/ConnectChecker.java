package io.baton.health.check;

import io.baton.health.CheckResult;
import io.baton.health.CheckTarget;

import java.net.Socket;

/** {@code connect}: the server accepts a TCP connection. */
final class ConnectChecker implements Checker {

    @Override
    public CheckResult check(CheckTarget target, Deadline deadline) throws Exception {
        try (Socket socket = deadline.connect(target.host(), target.port())) {
            return CheckResult.up("connected to port " + target.port());
        }
    }
}
