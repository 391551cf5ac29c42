package io.baton.host;

import io.baton.config.HostPort;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The tie-breaker of a cluster that cannot see a majority: a node in a minority partition may hold
 * VIPs only while it reaches the witness (typically the default gateway). {@code a.b.c.d} is probed
 * with one ICMP echo ({@code ping}), {@code a.b.c.d:port} with a TCP connect.
 */
public final class Witness {

    /** Only root may send ICMP from the JVM; otherwise the ping program does it. */
    private static final boolean ROOT = "root".equals(System.getProperty("user.name"));

    private final HostPort target;
    private final Duration timeout;

    public Witness(HostPort target, Duration timeout) {
        this.target = target;
        this.timeout = timeout;
    }

    public HostPort target() {
        return target;
    }

    public boolean reachable() {
        return target.hasPort() ? connects() : pings();
    }

    private boolean connects() {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(target.host(), target.port()), (int) timeout.toMillis());
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private boolean pings() {
        if (ROOT) {
            // as root the JDK sends a real ICMP echo from this process: no process to start
            try {
                return java.net.InetAddress.getByName(target.host()).isReachable((int) timeout.toMillis());
            } catch (IOException e) {
                return false;
            }
        }
        long seconds = Math.max(1, timeout.toSeconds());
        try {
            Process ping = new ProcessBuilder("ping", "-c", "1", "-W", String.valueOf(seconds), "-n", target.host())
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start();
            if (!ping.waitFor(seconds + 1, TimeUnit.SECONDS)) {
                ping.destroyForcibly();
                return false;
            }
            return ping.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
