package io.baton.cluster.wire;

import io.baton.cluster.DaemonThreads;

import javax.net.ssl.SSLSocket;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Makes this node's outbound cluster connections on threads of its own, so that no JGroups
 * thread ever waits for a peer that does not answer.
 *
 * <p>Why: JGroups' TCP transport connects on the thread that sends, and that is its one bundler
 * thread, which carries every heartbeat to every member. A node that cannot be reached (its host
 * is down, or cut off) is still asked for members on every MERGE3 round (TCPPING asks every
 * configured node), and each ask held the bundler for the whole connect timeout: 500 ms in which
 * this node's heartbeats reached nobody, so that the members it still reached suspected it
 * (FD_ALL3: 150 ms). Measured in {@code ThreeNodeIT}: with one node of three cut off, the other
 * two split and merged again every 3-8 s for as long as the cut lasted.
 *
 * <p>Now a connect runs here, and the sender waits for it at most {@link #FIRST_WAIT} (a LAN
 * connect and TLS handshake take a few milliseconds, so a reachable peer is usually connected at
 * once), and not at all when the last attempt to that peer failed. It must not wait longer even
 * while it has nobody to send heartbeats to: it waits inside JGroups' connection lock, which
 * every other connect and every accepted connection needs too. A sender that does not wait gets
 * a {@link SocketException}, which JGroups counts as a lost send (its reliable protocols send
 * again within 100 ms; a joining node's discovery asks three times per join attempt); a
 * connection made after its sender stopped waiting is handed to the transport
 * ({@link #whenMadeUnclaimed}), which completes it at once. One attempt per peer runs at a time,
 * so a dead peer costs one of these threads for one connect timeout per round, never a sender.
 */
final class Dialer implements AutoCloseable {

    /** How long a sender waits for a connect to a peer not known to be down: many LAN handshakes, a third of FD_ALL3's timeout. */
    static final Duration FIRST_WAIT = Duration.ofMillis(50);
    /**
     * How long a connection made in the background waits to be taken. The peer's transport closes a
     * connection that has not named its sender within {@code peer_addr_read_timeout} (500 ms), and
     * JGroups sends again within 100 ms, so an unclaimed connection is closed before that.
     */
    static final Duration UNCLAIMED = Duration.ofMillis(400);
    static final int THREADS = 8;

    /** A connection whose TCP connect and TLS handshake completed, authenticated as {@code node}. */
    record Made(Socket raw, SSLSocket ssl, String node) {
    }

    /**
     * The socket options JGroups set on the socket it asked to connect; the made one gets them too
     * (bound to the same address; {@code localPort} is 0, an ephemeral port, but for tests).
     */
    record Options(InetAddress local, int localPort, boolean noDelay, boolean keepAlive, int linger, int sendBuffer,
                   int receiveBuffer) {
        /** A buffer size JGroups did not set stays unset (a set one turns off the kernel's autotuning). */
        static Options of(Socket socket) throws SocketException {
            try (Socket fresh = new Socket()) {
                return new Options(socket.isBound() ? socket.getLocalAddress() : null, 0, socket.getTcpNoDelay(),
                        socket.getKeepAlive(), socket.getSoLinger(),
                        socket.getSendBufferSize() == fresh.getSendBufferSize() ? 0 : socket.getSendBufferSize(),
                        socket.getReceiveBufferSize() == fresh.getReceiveBufferSize() ? 0
                                : socket.getReceiveBufferSize());
            } catch (SocketException e) {
                throw e;
            } catch (IOException e) {
                throw new SocketException(e.getMessage());
            }
        }

        void applyTo(Socket socket) throws IOException {
            socket.setTcpNoDelay(noDelay);
            socket.setKeepAlive(keepAlive);
            if (linger >= 0) {
                socket.setSoLinger(true, linger);
            }
            if (sendBuffer > 0) {
                socket.setSendBufferSize(sendBuffer);
            }
            if (receiveBuffer > 0) {
                socket.setReceiveBufferSize(receiveBuffer);
            }
            if (local != null && !local.isAnyLocalAddress()) {
                socket.bind(new InetSocketAddress(local, localPort));
            }
        }
    }

    private final GuardedSocketFactory factory;
    private final ThreadPoolExecutor threads = new ThreadPoolExecutor(THREADS, THREADS, 10, TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(), new DaemonThreads("baton-cluster-connect"));
    /** The attempt per peer ("ip:port"): running, or ended and not yet taken. */
    private final Map<String, CompletableFuture<Made>> attempts = new HashMap<>();
    /** The peers whose last attempt failed: a sender does not wait for them. */
    private final Map<String, String> down = new HashMap<>();
    private volatile boolean closed;
    private volatile java.util.function.Consumer<InetSocketAddress> unclaimed = target -> { };

    Dialer(GuardedSocketFactory factory) {
        this.factory = factory;
        threads.allowCoreThreadTimeOut(true);
    }

    /**
     * Who completes a connection that was made after its sender stopped waiting: it is asked to
     * connect to the target again (which takes the made connection at once) before
     * {@link #UNCLAIMED} closes it.
     */
    void whenMadeUnclaimed(java.util.function.Consumer<InetSocketAddress> transport) {
        this.unclaimed = transport;
    }

    /**
     * A connection to {@code target}, made by an attempt started now or earlier; throws when none
     * is ready within the wait (the attempt goes on) or when the attempt failed.
     */
    Made connect(InetSocketAddress target, Options options, int connectTimeoutMs) throws IOException {
        String peer = target.getAddress().getHostAddress() + ":" + target.getPort();
        CompletableFuture<Made> attempt;
        long waitMs;
        String lastFailure;
        synchronized (this) {
            if (closed) {
                throw new SocketException("the cluster's sockets are closed");
            }
            attempt = attempts.get(peer);
            if (attempt != null && attempt.isDone()) {
                attempts.remove(peer);
                if (!attempt.isCompletedExceptionally()) {
                    return attempt.join();
                }
                attempt = null; // the last one failed: a new one starts, and nobody waits for it
            }
            lastFailure = down.get(peer);
            waitMs = lastFailure == null ? FIRST_WAIT.toMillis() : 0;
            if (attempt == null) {
                attempt = start(peer, target, options, connectTimeoutMs);
            }
        }
        try {
            Made made = attempt.get(waitMs, TimeUnit.MILLISECONDS);
            if (taken(peer, attempt)) {
                return made;
            }
            // the unclaimed connection's deadline came first: it is closed; the next send starts again
        } catch (TimeoutException e) {
            // still connecting: below
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SocketException("interrupted while connecting to " + peer);
        } catch (ExecutionException e) {
            taken(peer, attempt);
            throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
        }
        throw new SocketException("connecting to " + peer + " in the background"
                + (lastFailure == null ? "" : " (the last attempt failed: " + lastFailure + ")"));
    }

    private synchronized boolean waiting(String peer, CompletableFuture<Made> attempt) {
        return attempts.get(peer) == attempt;
    }

    private synchronized boolean taken(String peer, CompletableFuture<Made> attempt) {
        return attempts.remove(peer, attempt);
    }

    private CompletableFuture<Made> start(String peer, InetSocketAddress target, Options options, int timeoutMs) {
        CompletableFuture<Made> attempt = new CompletableFuture<>();
        attempts.put(peer, attempt);
        try {
            threads.execute(() -> dial(peer, target, options, timeoutMs, attempt));
        } catch (RejectedExecutionException e) {
            attempts.remove(peer);
            attempt.completeExceptionally(new SocketException("the cluster's sockets are closed"));
        }
        return attempt;
    }

    private void dial(String peer, InetSocketAddress target, Options options, int timeoutMs,
                      CompletableFuture<Made> attempt) {
        Socket raw = new Socket();
        try {
            options.applyTo(raw);
            raw.connect(target, timeoutMs);
            if (raw.getLocalSocketAddress().equals(raw.getRemoteSocketAddress())) {
                // TCP's simultaneous open with itself: nobody listens on the target, and the kernel
                // gave this socket the target's own port (same host; rare, but a node retrying a
                // peer that is not up meets it). The handshake would read its own hello.
                throw new java.net.ConnectException("nobody listens on " + peer + " (connected to itself)");
            }
            SSLSocket ssl = factory.tls().layer(raw, true);
            String node = factory.handshake(ssl, raw, true, peer);
            synchronized (this) {
                down.remove(peer);
            }
            attempt.complete(new Made(raw, ssl, node));
            // not taken in time: the peer would close it anyway (see UNCLAIMED)
            factory.later(UNCLAIMED, () -> {
                if (taken(peer, attempt)) {
                    GuardedSocketFactory.closeQuietly(raw);
                }
            });
            if (waiting(peer, attempt)) {
                unclaimed.accept(target);
            }
        } catch (IOException | RuntimeException e) {
            GuardedSocketFactory.closeQuietly(raw);
            synchronized (this) {
                down.put(peer, e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage());
            }
            attempt.completeExceptionally(e);
        }
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            attempts.values().forEach(attempt -> attempt.thenAccept(made -> GuardedSocketFactory.closeQuietly(made.raw())));
            attempts.clear();
        }
        threads.shutdownNow();
    }
}
