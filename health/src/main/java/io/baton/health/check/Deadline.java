package io.baton.health.check;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;

/** The moment a check must have finished by; every blocking step waits at most until then. */
public final class Deadline {

    private final long endNanos;
    private final Duration timeout;

    public Deadline(Duration timeout) {
        this.timeout = timeout;
        this.endNanos = System.nanoTime() + timeout.toNanos();
    }

    public Duration timeout() {
        return timeout;
    }

    /** Milliseconds left, at least 1 (0 would mean "no timeout" to sockets). */
    public int remainingMillis() throws SocketTimeoutException {
        long left = (endNanos - System.nanoTime()) / 1_000_000;
        if (left <= 0) {
            throw new SocketTimeoutException("no answer within " + timeout.toMillis() + " ms");
        }
        return (int) Math.min(Integer.MAX_VALUE, left);
    }

    /** Milliseconds left, 0 when the deadline has passed. */
    public long remainingMillisOrZero() {
        return Math.max(0, (endNanos - System.nanoTime()) / 1_000_000);
    }

    /** A connected socket whose reads give up at the deadline. */
    public Socket connect(String host, int port) throws IOException {
        Socket socket = new Socket();
        try {
            socket.connect(new InetSocketAddress(host, port), remainingMillis());
            socket.setSoTimeout(remainingMillis());
            socket.setTcpNoDelay(true);
            return socket;
        } catch (IOException e) {
            socket.close();
            throw e;
        }
    }

    /** Shortens the socket's read timeout to what is left. */
    public void beforeRead(Socket socket) throws IOException {
        socket.setSoTimeout(remainingMillis());
    }
}
