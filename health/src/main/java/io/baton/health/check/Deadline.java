package io.baton.health.check;

import java.io.Closeable;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The moment a check must have finished by, and what it holds open until then. Every blocking step
 * waits at most until the deadline; {@link #expire} (the health monitor's watchdog, at the
 * deadline) closes every socket and stream the check opened, which ends any read or handshake that
 * a server keeps alive byte by byte. What a server may send is bounded too: the sockets made here
 * count what they read, and refuse more than {@link #MAX_BYTES_READ} in one check.
 */
public final class Deadline {

    /** The most a server may send to one check: far more than any greeting, status or command set. */
    public static final int MAX_BYTES_READ = 256 * 1024;

    private final long endNanos;
    private final Duration timeout;
    private final int maxBytes;
    private final List<Closeable> held = new ArrayList<>();
    private boolean expired;
    private volatile String phase = "connecting";
    private volatile String connected = "waiting for the server to answer";
    private volatile long bytesRead;

    public Deadline(Duration timeout) {
        this(timeout, MAX_BYTES_READ);
    }

    public Deadline(Duration timeout, int maxBytes) {
        this.timeout = timeout;
        this.maxBytes = maxBytes;
        this.endNanos = System.nanoTime() + timeout.toNanos();
    }

    public Duration timeout() {
        return timeout;
    }

    /** What the check is doing now, for the reason it fails with if the deadline ends it ("waiting for the greeting"). */
    public void phase(String doing) {
        this.phase = doing;
    }

    public String phase() {
        return phase;
    }

    /** The phase a socket of this deadline enters once connected ("reading the SMTP greeting"). */
    public void phaseOnceConnected(String doing) {
        this.connected = doing;
    }

    /** Bytes the check's sockets have read so far. */
    public long bytesRead() {
        return bytesRead;
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

    /**
     * Closes {@code resource} when the deadline expires (at once if it has). Returns it.
     */
    public <T extends Closeable> T guard(T resource) throws IOException {
        boolean late;
        synchronized (held) {
            late = expired;
            if (!late) {
                held.add(resource);
            }
        }
        if (late) {
            resource.close();
            throw new SocketTimeoutException("no answer within " + timeout.toMillis() + " ms");
        }
        return resource;
    }

    /** The deadline has passed: closes everything the check holds, so that whatever it waits on ends now. */
    public void expire() {
        List<Closeable> open;
        synchronized (held) {
            expired = true;
            open = List.copyOf(held);
            held.clear();
        }
        for (Closeable resource : open) {
            try {
                resource.close();
            } catch (IOException | RuntimeException e) {
                // closing is all that is wanted
            }
        }
    }

    public boolean expired() {
        synchronized (held) {
            return expired;
        }
    }

    /** A connected socket whose reads give up at the deadline, closed by {@link #expire}, reading at most the budget. */
    public Socket connect(String host, int port) throws IOException {
        Socket socket = newSocket();
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

    /** An unconnected socket like those of {@link #connect} (for clients that connect themselves, e.g. Commons Net). */
    public Socket newSocket() throws IOException {
        return guard(new CountingSocket());
    }

    /** A socket factory that makes {@link #newSocket}s. */
    public javax.net.SocketFactory socketFactory() {
        return new javax.net.SocketFactory() {
            @Override
            public Socket createSocket() throws IOException {
                return newSocket();
            }

            @Override
            public Socket createSocket(String host, int port) throws IOException {
                return connect(host, port);
            }

            @Override
            public Socket createSocket(String host, int port, java.net.InetAddress local, int localPort)
                    throws IOException {
                return connect(host, port);
            }

            @Override
            public Socket createSocket(java.net.InetAddress host, int port) throws IOException {
                return connect(host.getHostAddress(), port);
            }

            @Override
            public Socket createSocket(java.net.InetAddress host, int port, java.net.InetAddress local, int localPort)
                    throws IOException {
                return connect(host.getHostAddress(), port);
            }
        };
    }

    /** Shortens the socket's read timeout to what is left. */
    public void beforeRead(Socket socket) throws IOException {
        socket.setSoTimeout(remainingMillis());
    }

    /** Thrown when a server sends a check more than its byte budget. */
    public static final class TooMuchException extends IOException {
        private static final long serialVersionUID = 1L;

        TooMuchException(String message) {
            super(message);
        }
    }

    /** A socket whose input counts against the check's budget. */
    private final class CountingSocket extends Socket {
        private InputStream counted;

        @Override
        public void connect(java.net.SocketAddress endpoint, int timeoutMillis) throws IOException {
            phase("connecting");
            super.connect(endpoint, timeoutMillis);
            phase(connected);
        }

        @Override
        public synchronized InputStream getInputStream() throws IOException {
            if (counted == null) {
                counted = new FilterInputStream(super.getInputStream()) {
                    @Override
                    public int read() throws IOException {
                        int b = super.read();
                        if (b >= 0) {
                            count(1);
                        }
                        return b;
                    }

                    @Override
                    public int read(byte[] buffer, int offset, int length) throws IOException {
                        int allowed = (int) Math.min(length, Math.max(1, maxBytes - bytesRead + 1));
                        int read = super.read(buffer, offset, allowed);
                        if (read > 0) {
                            count(read);
                        }
                        return read;
                    }
                };
            }
            return counted;
        }

        private void count(int read) throws TooMuchException {
            bytesRead += read;
            if (bytesRead > maxBytes) {
                throw new TooMuchException("the server sent more than " + maxBytes + " bytes while " + phase);
            }
        }
    }
}
