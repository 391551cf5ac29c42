package io.baton.cluster.wire;

import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509ExtendedTrustManager;
import java.net.InetAddress;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.function.Supplier;

/**
 * Mutual TLS 1.3 between configured nodes. Each side shows a {@link NodeCertificate} vouched for
 * by a cluster key, and accepts the other only when it is vouched for by a key it holds <em>and</em>
 * names the node configured at the address the connection comes from (inbound) or goes to
 * (outbound). TLS 1.3's ciphers are all AEAD: every record is encrypted and integrity-protected,
 * and a record replayed, reordered or replayed into another connection fails.
 */
public final class ClusterTls {

    private static final String ALIAS = "node";
    private static final String[] PROTOCOLS = {"TLSv1.3"};

    private final ClusterPeers peers;
    private final Supplier<ClusterKeys> keys;
    private final SSLContext context;
    private volatile NodeCertificate.Issued issued;

    /** @param keys the keys held now (read again for every handshake: a key file can change during a rotation) */
    public ClusterTls(ClusterPeers peers, Supplier<ClusterKeys> keys) {
        this.peers = peers;
        this.keys = keys;
        try {
            context = SSLContext.getInstance("TLSv1.3");
            context.init(new KeyManager[] {new NodeKeyManager()}, new TrustManager[] {new PeerTrustManager()}, null);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("this Java runtime has no TLS 1.3", e);
        }
    }

    ClusterPeers peers() {
        return peers;
    }

    /** The keys held now (reading a changed key file again, which logs the change). */
    ClusterKeys keysNow() {
        return keys.get();
    }

    /** Layers TLS over a connected socket, as the side that connected ({@code client}) or accepted. */
    SSLSocket layer(Socket raw, boolean client) throws java.io.IOException {
        SSLSocket ssl = (SSLSocket) context.getSocketFactory().createSocket(raw,
                raw.getInetAddress().getHostAddress(), raw.getPort(), true);
        ssl.setUseClientMode(client);
        SSLParameters parameters = ssl.getSSLParameters();
        parameters.setProtocols(PROTOCOLS);
        parameters.setNeedClientAuth(true);
        parameters.setEndpointIdentificationAlgorithm(null); // identity is checked against the config instead
        ssl.setSSLParameters(parameters);
        return ssl;
    }

    /**
     * The node at the other end of a completed handshake, checked again from its session (a resumed
     * session skips the trust manager).
     *
     * @throws CertificateException naming why the peer is not the configured node it should be
     */
    String authenticated(SSLSocket ssl, boolean client) throws CertificateException {
        Certificate[] chain;
        try {
            chain = ssl.getSession().getPeerCertificates();
        } catch (SSLPeerUnverifiedException e) {
            throw new CertificateException("the peer showed no certificate");
        }
        return check(Arrays.copyOf(chain, chain.length, X509Certificate[].class), ssl, client);
    }

    private String check(X509Certificate[] chain, Socket socket, boolean peerIsServer) throws CertificateException {
        if (chain == null || chain.length == 0) {
            throw new CertificateException("the peer showed no certificate");
        }
        String node = NodeCertificate.vouchedNode(chain[0], peers.cluster(), keys.get());
        InetAddress ip = socket.getInetAddress();
        if (!peers.isNode(node)) {
            throw new CertificateException("vouched for node \"" + node + "\", which is not in cluster.nodes");
        }
        if (peerIsServer) {
            String expected = peers.nodeAt(ip, socket.getPort()).orElse(null);
            if (!node.equals(expected)) {
                throw new CertificateException(ip.getHostAddress() + ":" + socket.getPort() + " answered as node \""
                        + node + "\", but " + (expected == null ? "no node" : "node \"" + expected + "\"")
                        + " is configured there");
            }
        } else if (!peers.isAt(node, ip)) {
            throw new CertificateException("node \"" + node + "\" connected from " + ip.getHostAddress()
                    + ", not from its configured address " + peers.address(node).map(Object::toString).orElse("?"));
        }
        return node;
    }

    private NodeCertificate.Issued current() {
        ClusterKeys now = keys.get();
        NodeCertificate.Issued mine = issued;
        if (mine == null || !mine.keyIds().equals(now.ids())) {
            synchronized (this) {
                mine = issued;
                if (mine == null || !mine.keyIds().equals(now.ids())) {
                    mine = NodeCertificate.issue(peers.cluster(), peers.self(), now);
                    issued = mine;
                }
            }
        }
        return mine;
    }

    private final class NodeKeyManager extends X509ExtendedKeyManager {
        @Override
        public String[] getClientAliases(String keyType, Principal[] issuers) {
            return "EC".equals(keyType) ? new String[] {ALIAS} : null;
        }

        @Override
        public String chooseClientAlias(String[] keyTypes, Principal[] issuers, Socket socket) {
            return Arrays.asList(keyTypes).contains("EC") ? ALIAS : null;
        }

        @Override
        public String[] getServerAliases(String keyType, Principal[] issuers) {
            return getClientAliases(keyType, issuers);
        }

        @Override
        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
            return "EC".equals(keyType) ? ALIAS : null;
        }

        @Override
        public String chooseEngineClientAlias(String[] keyTypes, Principal[] issuers, SSLEngine engine) {
            return null;
        }

        @Override
        public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
            return null;
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
            return ALIAS.equals(alias) ? new X509Certificate[] {current().certificate()} : null;
        }

        @Override
        public PrivateKey getPrivateKey(String alias) {
            return ALIAS.equals(alias) ? current().privateKey() : null;
        }
    }

    private final class PeerTrustManager extends X509ExtendedTrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            check(chain, socket, false);
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
                throws CertificateException {
            check(chain, socket, true);
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            throw new CertificateException("the cluster uses sockets, not engines");
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
                throws CertificateException {
            throw new CertificateException("the cluster uses sockets, not engines");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("a peer is checked against the address it connects from");
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
            throw new CertificateException("a peer is checked against the address it answers at");
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
