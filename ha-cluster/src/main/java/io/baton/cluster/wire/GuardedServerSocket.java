package io.baton.cluster.wire;

import javax.net.ssl.SSLSocket;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.SocketException;
import java.nio.channels.ServerSocketChannel;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The cluster port. An admission thread accepts every connection and decides at once whether it
 * may even try a handshake (from a node's address, within the per-address and global bounds);
 * handshakes run on the factory's small pool; only authenticated connections reach
 * {@link #accept()}, which is what JGroups' acceptor calls. JGroups reads the peer's transport
 * address on its acceptor thread, so an unauthenticated peer could stall every accept there: here
 * it never gets that far.
 */
final class GuardedServerSocket extends ServerSocket {

    /** Authenticated connections that JGroups has not picked up yet. */
    private static final int READY = 8;

    private final GuardedSocketFactory factory;
    private final ServerSocket raw = new ServerSocket();
    private final BlockingQueue<TlsSocket> ready = new ArrayBlockingQueue<>(READY);
    private final Map<InetAddress, AtomicInteger> pending = new ConcurrentHashMap<>();
    private volatile Thread admission;
    private volatile boolean closed;

    GuardedServerSocket(GuardedSocketFactory factory) throws IOException {
        this.factory = factory;
    }

    @Override
    public void bind(SocketAddress endpoint) throws IOException {
        bind(endpoint, 50);
    }

    @Override
    public void bind(SocketAddress endpoint, int backlog) throws IOException {
        raw.bind(endpoint, backlog);
        admission = io.baton.cluster.DaemonThreads.start("baton-cluster-admission[" + raw.getLocalPort() + "]",
                this::admit);
    }

    private void admit() {
        while (!closed) {
            Socket socket;
            try {
                socket = raw.accept();
            } catch (IOException e) {
                if (!closed) {
                    factory.stats().refusedConnection("accept-failed", e.getMessage());
                    pause(); // out of file descriptors, say: do not spin
                }
                continue;
            }
            InetAddress from = socket.getInetAddress();
            String peer = from.getHostAddress() + ":" + socket.getPort();
            if (!factory.tls().peers().isNodeHost(from)) {
                factory.stats().refusedConnection("not-a-node-address", "from " + peer);
                GuardedSocketFactory.closeQuietly(socket);
                continue;
            }
            AtomicInteger waiting = pending.computeIfAbsent(from, key -> new AtomicInteger());
            if (waiting.incrementAndGet() > GuardedSocketFactory.PENDING_PER_ADDRESS) {
                waiting.decrementAndGet();
                factory.stats().refusedConnection("too-many-handshakes", "from " + peer + ": "
                        + GuardedSocketFactory.PENDING_PER_ADDRESS + " handshakes from that address under way");
                GuardedSocketFactory.closeQuietly(socket);
                continue;
            }
            try {
                factory.handshakes().execute(() -> handshake(socket, peer, waiting));
            } catch (RejectedExecutionException e) {
                waiting.decrementAndGet();
                factory.stats().refusedConnection("busy", "from " + peer + ": every handshake slot is taken");
                GuardedSocketFactory.closeQuietly(socket);
            }
        }
    }

    private static void pause() {
        try {
            Thread.sleep(50);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void handshake(Socket socket, String peer, AtomicInteger waiting) {
        try {
            SSLSocket ssl = factory.tls().layer(socket, false);
            String node = factory.handshake(ssl, socket, false, peer);
            TlsSocket authenticated = new TlsSocket(factory, socket, ssl, node);
            if (!factory.admitted(node, authenticated)) {
                GuardedSocketFactory.closeQuietly(socket);
                return;
            }
            if (closed || !ready.offer(authenticated, 1, TimeUnit.SECONDS)) {
                factory.stats().refusedConnection("busy", "from " + peer + ": the transport takes no connection now");
                authenticated.close();
            }
        } catch (IOException e) {
            GuardedSocketFactory.closeQuietly(socket); // counted and said by the handshake
        } catch (InterruptedException e) {
            GuardedSocketFactory.closeQuietly(socket);
            Thread.currentThread().interrupt();
        } finally {
            waiting.decrementAndGet();
        }
    }

    /** The next authenticated connection. */
    @Override
    public Socket accept() throws IOException {
        while (!closed) {
            try {
                TlsSocket next = ready.poll(200, TimeUnit.MILLISECONDS);
                if (next != null) {
                    return next;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new SocketException("interrupted while accepting");
            }
        }
        throw new SocketException("Socket is closed");
    }

    @Override
    public void close() throws IOException {
        closed = true;
        raw.close();
        Thread thread = admission;
        if (thread != null) {
            thread.interrupt();
        }
        TlsSocket left;
        while ((left = ready.poll()) != null) {
            left.close();
        }
    }

    @Override
    public boolean isClosed() {
        return closed;
    }

    @Override
    public boolean isBound() {
        return raw.isBound();
    }

    @Override
    public InetAddress getInetAddress() {
        return raw.getInetAddress();
    }

    @Override
    public int getLocalPort() {
        return raw.getLocalPort();
    }

    @Override
    public SocketAddress getLocalSocketAddress() {
        return raw.getLocalSocketAddress();
    }

    @Override
    public ServerSocketChannel getChannel() {
        return null;
    }

    @Override
    public void setSoTimeout(int timeout) throws SocketException {
        raw.setSoTimeout(timeout);
    }

    @Override
    public int getSoTimeout() throws IOException {
        return raw.getSoTimeout();
    }

    @Override
    public void setReuseAddress(boolean on) throws SocketException {
        raw.setReuseAddress(on);
    }

    @Override
    public boolean getReuseAddress() throws SocketException {
        return raw.getReuseAddress();
    }

    @Override
    public void setReceiveBufferSize(int size) throws SocketException {
        raw.setReceiveBufferSize(size);
    }

    @Override
    public int getReceiveBufferSize() throws SocketException {
        return raw.getReceiveBufferSize();
    }

    @Override
    public String toString() {
        return "cluster port " + raw;
    }
}
