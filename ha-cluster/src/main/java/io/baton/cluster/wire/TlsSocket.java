package io.baton.cluster.wire;

import javax.net.ssl.SSLSocket;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.SocketException;
import java.nio.channels.SocketChannel;
import java.security.cert.CertificateException;

/**
 * A cluster connection as JGroups' TCP transport sees it: a plain {@link Socket} whose streams
 * are TLS, handed over only once the handshake has completed within its deadline and the peer
 * is authenticated as the configured node (see {@link ClusterTls}). Outbound, {@link #connect}
 * does all of that; inbound, {@link GuardedServerSocket} does it before JGroups ever sees the
 * socket. Not an {@code SSLSocket}, so JGroups never starts a handshake of its own without a
 * deadline.
 */
final class TlsSocket extends Socket {

    private final GuardedSocketFactory factory;
    /** The TCP socket underneath; an outbound one is replaced by the connection the {@link Dialer} made. */
    private volatile Socket raw;
    private volatile SSLSocket ssl;
    private volatile String node;
    private volatile boolean closed;
    /** Where an outbound socket connected to ("ip:port"); null for an inbound one. */
    private volatile String outbound;

    /** An outbound socket, not yet connected. */
    TlsSocket(GuardedSocketFactory factory) {
        this.factory = factory;
        this.raw = new Socket();
    }

    /** An inbound socket whose handshake completed and whose peer is {@code node}. */
    TlsSocket(GuardedSocketFactory factory, Socket raw, SSLSocket ssl, String node) {
        this.factory = factory;
        this.raw = raw;
        this.ssl = ssl;
        this.node = node;
    }

    /** The node at the other end (null before the handshake). */
    String node() {
        return node;
    }

    @Override
    public void connect(SocketAddress endpoint) throws IOException {
        connect(endpoint, 0);
    }

    /**
     * Connects only to a configured node's cluster address: the {@link Dialer} makes the
     * connection and runs the handshake within {@link GuardedSocketFactory#HANDSHAKE_TIMEOUT} on a
     * thread of its own (this caller waits briefly at most), and the peer must be that node.
     */
    @Override
    public void connect(SocketAddress endpoint, int timeout) throws IOException {
        InetSocketAddress target = (InetSocketAddress) endpoint;
        ClusterPeers peers = factory.tls().peers();
        if (target.getAddress() == null || peers.nodeAt(target.getAddress(), target.getPort()).isEmpty()) {
            throw new SocketException("not connecting to " + target + ": not a node's cluster address in cluster.nodes");
        }
        Socket unconnected = raw;
        Dialer.Made made = factory.dialer().connect(target, Dialer.Options.of(unconnected),
                timeout > 0 ? timeout : (int) GuardedSocketFactory.HANDSHAKE_TIMEOUT.toMillis());
        raw = made.raw();
        unconnected.close();
        SSLSocket layered = made.ssl();
        String peer = made.node();
        if (!factory.admitted(peer, this)) {
            close();
            throw new SocketException("not connecting to node " + peer + ": it has "
                    + GuardedSocketFactory.CONNECTIONS_PER_NODE + " connections already");
        }
        node = peer;
        outbound = target.getAddress().getHostAddress() + ":" + target.getPort();
        ssl = layered;
    }

    @Override
    public void bind(SocketAddress local) throws IOException {
        raw.bind(local);
    }

    /**
     * The TLS stream. In TLS 1.3 a server judges the client's certificate after the client's side
     * of the handshake is done, so a node that refuses this node's outbound connection says so in
     * an alert on the first read: that refusal is recorded like a failed handshake.
     */
    @Override
    public InputStream getInputStream() throws IOException {
        InputStream tls = established().getInputStream();
        if (outbound == null) {
            return tls;
        }
        return new java.io.FilterInputStream(tls) {
            private boolean heard;

            @Override
            public int read() throws IOException {
                try {
                    int value = super.read();
                    heard = true;
                    return value;
                } catch (javax.net.ssl.SSLException e) {
                    refused(e);
                    throw e;
                }
            }

            @Override
            public int read(byte[] bytes, int offset, int length) throws IOException {
                try {
                    int count = super.read(bytes, offset, length);
                    heard = true;
                    return count;
                } catch (javax.net.ssl.SSLException e) {
                    refused(e);
                    throw e;
                }
            }

            private void refused(javax.net.ssl.SSLException e) {
                if (!heard) {
                    factory.refusedByPeer(outbound, e.getMessage());
                }
            }
        };
    }

    @Override
    public OutputStream getOutputStream() throws IOException {
        return established().getOutputStream();
    }

    private SSLSocket established() throws SocketException {
        SSLSocket current = ssl;
        if (current == null || closed) {
            throw new SocketException(closed ? "Socket closed" : "Socket is not connected");
        }
        return current;
    }

    /**
     * Closes without waiting on the peer: TLS's close_notify goes out if it can, and a deadline
     * closes the socket underneath if that write blocks (a peer that stopped reading).
     */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        factory.released(node, this);
        SSLSocket current = ssl;
        try {
            raw.setSoLinger(true, 0);
        } catch (SocketException ignored) {
            // already closed underneath
        }
        if (current == null) {
            raw.close();
            return;
        }
        java.util.concurrent.Future<?> deadline = factory.closeAt(raw, GuardedSocketFactory.CLOSE_TIMEOUT);
        try {
            current.close();
        } finally {
            deadline.cancel(false);
            raw.close();
        }
    }

    @Override
    public boolean isClosed() {
        return closed || raw.isClosed();
    }

    @Override
    public boolean isConnected() {
        return ssl != null && raw.isConnected();
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
    public int getPort() {
        return raw.getPort();
    }

    @Override
    public InetAddress getLocalAddress() {
        return raw.getLocalAddress();
    }

    @Override
    public int getLocalPort() {
        return raw.getLocalPort();
    }

    @Override
    public SocketAddress getRemoteSocketAddress() {
        return raw.getRemoteSocketAddress();
    }

    @Override
    public SocketAddress getLocalSocketAddress() {
        return raw.getLocalSocketAddress();
    }

    @Override
    public SocketChannel getChannel() {
        return null;
    }

    @Override
    public void setSoTimeout(int timeout) throws SocketException {
        raw.setSoTimeout(timeout);
    }

    @Override
    public int getSoTimeout() throws SocketException {
        return raw.getSoTimeout();
    }

    @Override
    public void setTcpNoDelay(boolean on) throws SocketException {
        raw.setTcpNoDelay(on);
    }

    @Override
    public boolean getTcpNoDelay() throws SocketException {
        return raw.getTcpNoDelay();
    }

    @Override
    public void setKeepAlive(boolean on) throws SocketException {
        raw.setKeepAlive(on);
    }

    @Override
    public boolean getKeepAlive() throws SocketException {
        return raw.getKeepAlive();
    }

    @Override
    public void setSoLinger(boolean on, int linger) throws SocketException {
        raw.setSoLinger(on, linger);
    }

    @Override
    public int getSoLinger() throws SocketException {
        return raw.getSoLinger();
    }

    @Override
    public void setSendBufferSize(int size) throws SocketException {
        raw.setSendBufferSize(size);
    }

    @Override
    public int getSendBufferSize() throws SocketException {
        return raw.getSendBufferSize();
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
    public void setReuseAddress(boolean on) throws SocketException {
        raw.setReuseAddress(on);
    }

    @Override
    public boolean getReuseAddress() throws SocketException {
        return raw.getReuseAddress();
    }

    @Override
    public void setTrafficClass(int tc) throws SocketException {
        raw.setTrafficClass(tc);
    }

    @Override
    public int getTrafficClass() throws SocketException {
        return raw.getTrafficClass();
    }

    @Override
    public void shutdownInput() throws IOException {
        throw new SocketException("a TLS connection cannot be half-closed");
    }

    @Override
    public void shutdownOutput() throws IOException {
        throw new SocketException("a TLS connection cannot be half-closed");
    }

    @Override
    public boolean isInputShutdown() {
        return raw.isInputShutdown();
    }

    @Override
    public boolean isOutputShutdown() {
        return raw.isOutputShutdown();
    }

    @Override
    public String toString() {
        return "TLS " + raw + (node == null ? "" : " (node " + node + ")");
    }

    /** Thrown when the peer completed the handshake but is not the node it must be. */
    static final class NotAuthenticatedException extends SocketException {
        NotAuthenticatedException(CertificateException cause) {
            super(cause.getMessage());
            initCause(cause);
        }
    }
}
