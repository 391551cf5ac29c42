package io.baton.cluster.wire;

import io.baton.cluster.DaemonThreads;

import javax.net.ssl.SSLSocket;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.MulticastSocket;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.SocketException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.security.cert.CertificateException;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The only sockets the cluster's JGroups transport gets: TLS to and from configured nodes, with
 * every cost an unauthenticated peer can cause bounded. Inbound, a connection from an address
 * that is no node's is closed at once; at most {@link #PENDING_PER_ADDRESS} handshakes per address
 * and {@link #HANDSHAKE_THREADS} + {@link #HANDSHAKE_QUEUE} in all wait or run, on a small pool;
 * every handshake ends within {@link #HANDSHAKE_TIMEOUT} (a deadline closes the socket, which a
 * slow peer cannot hold off byte by byte); and a node keeps at most {@link #CONNECTIONS_PER_NODE}
 * authenticated connections. Datagram and NIO sockets are refused: the stack uses none.
 */
public final class GuardedSocketFactory implements org.jgroups.util.SocketFactory, AutoCloseable {

    /** A TLS 1.3 handshake on a LAN takes milliseconds even on a busy node; the rest is slack for a GC pause. */
    static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(2);
    /** How long a closing connection may try to say close_notify to a peer that does not read. */
    static final Duration CLOSE_TIMEOUT = Duration.ofMillis(500);
    static final int HANDSHAKE_THREADS = 4;
    static final int HANDSHAKE_QUEUE = 16;
    static final int PENDING_PER_ADDRESS = 4;
    /** JGroups keeps one connection per pair of nodes; a second one appears briefly when both connect at once. */
    static final int CONNECTIONS_PER_NODE = 4;

    private final ClusterTls tls;
    private final WireStats stats;
    private final ScheduledExecutorService deadlines =
            Executors.newSingleThreadScheduledExecutor(new DaemonThreads("baton-cluster-deadline"));
    private final ThreadPoolExecutor handshakes = new ThreadPoolExecutor(HANDSHAKE_THREADS, HANDSHAKE_THREADS,
            30, TimeUnit.SECONDS, new ArrayBlockingQueue<>(HANDSHAKE_QUEUE),
            new DaemonThreads("baton-cluster-handshake"), new ThreadPoolExecutor.AbortPolicy());
    private final Map<String, Set<TlsSocket>> connections = new HashMap<>();
    private final Dialer dialer = new Dialer(this);
    /** Why the last handshake this node started failed; null once one succeeds. */
    private volatile String outboundFailure;

    /** How often the key file is looked at without a handshake, so that a rotation is seen (and logged) soon. */
    static final Duration KEY_LOOK = Duration.ofSeconds(2);

    public GuardedSocketFactory(ClusterTls tls, WireStats stats) {
        this.tls = tls;
        this.stats = stats;
        handshakes.allowCoreThreadTimeOut(true);
        deadlines.scheduleWithFixedDelay(tls::keysNow, KEY_LOOK.toMillis(), KEY_LOOK.toMillis(),
                TimeUnit.MILLISECONDS);
    }

    ClusterTls tls() {
        return tls;
    }

    WireStats stats() {
        return stats;
    }

    Dialer dialer() {
        return dialer;
    }

    /**
     * Outbound connections are made off the sending thread ({@link Dialer}): {@code connect} is
     * asked to connect to a target whose connection was made after its sender stopped waiting.
     */
    public void whenConnectedLate(java.util.function.Consumer<InetSocketAddress> connect) {
        dialer.whenMadeUnclaimed(connect);
    }

    void later(Duration after, Runnable work) {
        deadlines.schedule(work, after.toMillis(), TimeUnit.MILLISECONDS);
    }

    ThreadPoolExecutor handshakes() {
        return handshakes;
    }

    /**
     * Runs a handshake within {@link #HANDSHAKE_TIMEOUT} and returns the authenticated node.
     * Every failure is counted; the socket is closed.
     */
    String handshake(SSLSocket ssl, Socket raw, boolean client, String peer) throws IOException {
        AtomicBoolean expired = new AtomicBoolean();
        Future<?> deadline = deadlines.schedule(() -> {
            expired.set(true);
            closeQuietly(raw);
        }, HANDSHAKE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        String direction = client ? "to " : "from ";
        try {
            raw.setSoTimeout((int) HANDSHAKE_TIMEOUT.toMillis());
            ssl.startHandshake();
            String node = tls.authenticated(ssl, client);
            raw.setSoTimeout(0);
            if (client) {
                outboundFailure = null;
            }
            return node;
        } catch (CertificateException e) {
            if (client) {
                outboundFailure = peer + " is not the node configured there: " + e.getMessage();
            }
            stats.refusedConnection("not-authenticated", direction + peer + ": " + e.getMessage());
            closeQuietly(raw);
            throw new TlsSocket.NotAuthenticatedException(e);
        } catch (IOException e) {
            String why = rootMessage(e);
            if (client && e instanceof javax.net.ssl.SSLException) {
                // the peer's TLS said no (an alert, a handshake it ended): it may not take our key. A socket
                // closed or timed out under us is no refusal: a node restarted at once meets that, and must
                // still join, or merge soon after
                outboundFailure = peer + " refused the handshake: " + why;
            }
            if (!client && silent(e)) {
                // a peer's exit probe (ClusterTransport), or a port scan: counted, not logged
                stats.quietConnection("closed-before-handshake", direction + peer);
            } else if (causedBy(e, CertificateException.class)) {
                stats.refusedConnection("not-authenticated", direction + peer + ": " + why);
            } else if (expired.get()) {
                stats.refusedConnection("handshake-timeout", direction + peer + ": no handshake within "
                        + HANDSHAKE_TIMEOUT.toMillis() + " ms");
            } else {
                stats.refusedConnection("handshake-failed", direction + peer + ": " + why);
            }
            closeQuietly(raw);
            throw e;
        } finally {
            deadline.cancel(false);
        }
    }

    /** A peer closed this node's outbound connection with a TLS alert before sending anything: it refused us. */
    void refusedByPeer(String peer, String why) {
        outboundFailure = peer + " refused this node: " + why;
        stats.refusedConnection("refused-by-peer", "by " + peer + ": " + why);
    }

    /** Why the last handshake with a peer that this node started failed, if it did. */
    public java.util.Optional<String> outboundFailure() {
        return java.util.Optional.ofNullable(outboundFailure);
    }

    /** Counts an authenticated connection of {@code node}; false when it has too many already. */
    synchronized boolean admitted(String node, TlsSocket socket) {
        Set<TlsSocket> open = connections.computeIfAbsent(node, key -> new HashSet<>());
        if (open.size() >= CONNECTIONS_PER_NODE) {
            stats.refusedConnection("too-many-connections", "node " + node + " has " + open.size()
                    + " connections already");
            return false;
        }
        open.add(socket);
        return true;
    }

    synchronized void released(String node, TlsSocket socket) {
        if (node != null) {
            Set<TlsSocket> open = connections.get(node);
            if (open != null) {
                open.remove(socket);
            }
        }
    }

    Future<?> closeAt(Socket socket, Duration after) {
        return deadlines.schedule(() -> closeQuietly(socket), after.toMillis(), TimeUnit.MILLISECONDS);
    }

    static void closeQuietly(Socket socket) {
        try {
            socket.setSoLinger(true, 0);
        } catch (IOException ignored) {
            // closed already
        }
        try {
            socket.close();
        } catch (IOException ignored) {
            // nothing more to do
        }
    }

    /** The peer closed the connection before it said anything. */
    private static boolean silent(IOException e) {
        Throwable cause = e instanceof javax.net.ssl.SSLHandshakeException && e.getCause() != null ? e.getCause() : e;
        return cause instanceof java.io.EOFException
                || cause instanceof SocketException && String.valueOf(cause.getMessage()).contains("Connection reset");
    }

    private static boolean causedBy(Throwable e, Class<? extends Throwable> type) {
        for (Throwable cause = e; cause != null; cause = cause.getCause() == cause ? null : cause.getCause()) {
            if (type.isInstance(cause)) {
                return true;
            }
        }
        return false;
    }

    private static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
    }

    @Override
    public void close() {
        dialer.close();
        handshakes.shutdownNow();
        deadlines.shutdownNow();
    }

    // --- JGroups' SocketFactory -------------------------------------------------------------

    @Override
    public Socket createSocket(String service) {
        return new TlsSocket(this);
    }

    @Override
    public Socket createSocket(String service, String host, int port) throws IOException {
        return createSocket(service, InetAddress.getByName(host), port);
    }

    @Override
    public Socket createSocket(String service, InetAddress address, int port) throws IOException {
        Socket socket = createSocket(service);
        socket.connect(new InetSocketAddress(address, port));
        return socket;
    }

    @Override
    public Socket createSocket(String service, String host, int port, InetAddress localAddr, int localPort)
            throws IOException {
        return createSocket(service, InetAddress.getByName(host), port, localAddr, localPort);
    }

    @Override
    public Socket createSocket(String service, InetAddress address, int port, InetAddress localAddr, int localPort)
            throws IOException {
        Socket socket = createSocket(service);
        socket.bind(new InetSocketAddress(localAddr, localPort));
        socket.connect(new InetSocketAddress(address, port));
        return socket;
    }

    @Override
    public ServerSocket createServerSocket(String service) throws IOException {
        return new GuardedServerSocket(this);
    }

    @Override
    public ServerSocket createServerSocket(String service, int port) throws IOException {
        return createServerSocket(service, port, 50);
    }

    @Override
    public ServerSocket createServerSocket(String service, int port, int backlog) throws IOException {
        return createServerSocket(service, port, backlog, null);
    }

    @Override
    public ServerSocket createServerSocket(String service, int port, int backlog, InetAddress bindAddr)
            throws IOException {
        ServerSocket socket = createServerSocket(service);
        socket.bind(new InetSocketAddress(bindAddr, port), backlog);
        return socket;
    }

    @Override
    public SocketChannel createSocketChannel(String service) throws IOException {
        throw unused(service);
    }

    @Override
    public SocketChannel createSocketChannel(String service, SocketAddress bindAddr) throws IOException {
        throw unused(service);
    }

    @Override
    public ServerSocketChannel createServerSocketChannel(String service) throws IOException {
        throw unused(service);
    }

    @Override
    public ServerSocketChannel createServerSocketChannel(String service, int port) throws IOException {
        throw unused(service);
    }

    @Override
    public ServerSocketChannel createServerSocketChannel(String service, int port, int backlog) throws IOException {
        throw unused(service);
    }

    @Override
    public ServerSocketChannel createServerSocketChannel(String service, int port, int backlog, InetAddress bindAddr)
            throws IOException {
        throw unused(service);
    }

    @Override
    public DatagramSocket createDatagramSocket(String service) throws SocketException {
        throw unused(service);
    }

    @Override
    public DatagramSocket createDatagramSocket(String service, SocketAddress bindaddr) throws SocketException {
        throw unused(service);
    }

    @Override
    public DatagramSocket createDatagramSocket(String service, int port) throws SocketException {
        throw unused(service);
    }

    @Override
    public DatagramSocket createDatagramSocket(String service, int port, InetAddress laddr) throws SocketException {
        throw unused(service);
    }

    @Override
    public MulticastSocket createMulticastSocket(String service) throws IOException {
        throw unused(service);
    }

    @Override
    public MulticastSocket createMulticastSocket(String service, int port) throws IOException {
        throw unused(service);
    }

    @Override
    public MulticastSocket createMulticastSocket(String service, SocketAddress bindaddr) throws IOException {
        throw unused(service);
    }

    @Override
    public void close(Socket socket) throws IOException {
        socket.close();
    }

    @Override
    public void close(ServerSocket socket) throws IOException {
        socket.close();
    }

    @Override
    public void close(DatagramSocket socket) {
        socket.close();
    }

    private static SocketException unused(String service) {
        return new SocketException("the cluster opens no " + service + " socket: only TLS over TCP");
    }
}
