package io.baton.cluster.wire;

import io.baton.config.ClusterConfig;
import io.baton.config.HostPort;
import io.baton.config.NodeConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.apache.logging.log4j.LogManager;

import javax.net.ssl.SSLSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * The outbound connects of a node (lb1) on loopback, against peers that misbehave on purpose: a
 * sender is never held for a peer's connect or handshake, and a connection that completes after
 * its sender stopped waiting is handed to the transport.
 */
class DialerTest {

    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    private final List<AutoCloseable> resources = new ArrayList<>();
    private final ClusterKeys keys = ClusterKeys.ephemeral();

    @AfterEach
    void close() throws Exception {
        for (int i = resources.size() - 1; i >= 0; i--) {
            resources.get(i).close();
        }
    }

    @Test
    void aSenderIsNotHeldByAPeerThatAcceptsAndNeverAnswersAndAfterItsFirstFailureNotAtAll() throws Exception {
        ServerSocket frozen = listen(); // the kernel completes TCP's handshake; nobody ever speaks TLS
        GuardedSocketFactory lb1 = factory(cluster(frozen.getLocalPort()));
        InetSocketAddress target = new InetSocketAddress(LOOPBACK, frozen.getLocalPort());

        // the handshake deadline is 2 s; the sender is back long before, while the attempt goes on
        assertThatThrownBy(() -> lb1.dialer().connect(target, options(), 500))
                .isInstanceOf(SocketException.class).hasMessageContaining("in the background")
                .hasMessageNotContaining("last attempt failed");
        await().atMost(Duration.ofSeconds(10)).until(() ->
                lb1.stats().refusedConnections().containsKey("handshake-timeout"));

        // the attempt failed: the next sender does not wait at all, and a new attempt starts
        assertThatThrownBy(() -> lb1.dialer().connect(target, options(), 500))
                .isInstanceOf(SocketException.class).hasMessageContaining("the last attempt failed");
        await().atMost(Duration.ofSeconds(10)).until(() ->
                lb1.stats().refusedConnections().get("handshake-timeout") >= 2);
    }

    @Test
    void aPeerThatAnswersLateIsConnectedInTheBackgroundAndHandedToTheTransport() throws Exception {
        ServerSocket slow = listen();
        ClusterConfig cluster = cluster(slow.getLocalPort());
        GuardedSocketFactory lb1 = factory(cluster);
        InetSocketAddress target = new InetSocketAddress(LOOPBACK, slow.getLocalPort());
        CountDownLatch answer = new CountDownLatch(1);
        CompletableFuture<SSLSocket> served = CompletableFuture.supplyAsync(() -> {
            try {
                Socket raw = slow.accept();
                resources.add(raw);
                answer.await(10, TimeUnit.SECONDS); // the peer speaks only once lb1's sender has given up
                SSLSocket ssl = new ClusterTls(new ClusterPeers(cluster, "lb2"), () -> keys).layer(raw, false);
                ssl.startHandshake();
                return ssl;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        List<Dialer.Made> handedOver = new CopyOnWriteArrayList<>();
        lb1.whenConnectedLate(late -> {
            try {
                handedOver.add(lb1.dialer().connect(late, options(), 500)); // what the transport does
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });

        assertThatThrownBy(() -> lb1.dialer().connect(target, options(), 500))
                .isInstanceOf(SocketException.class).hasMessageContaining("in the background");
        answer.countDown();

        served.get(10, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(10)).until(() -> handedOver.size() == 1);
        assertThat(handedOver.get(0).node()).isEqualTo("lb2");
        assertThat(handedOver.get(0).raw().isConnected()).isTrue();
        resources.add(handedOver.get(0).raw());
    }

    @Test
    void aConnectionNobodyTakesIsClosedBeforeThePeerWouldGiveUpOnIt() throws Exception {
        ServerSocket slow = listen();
        ClusterConfig cluster = cluster(slow.getLocalPort());
        GuardedSocketFactory lb1 = factory(cluster); // no transport told: nobody takes a late connection
        InetSocketAddress target = new InetSocketAddress(LOOPBACK, slow.getLocalPort());
        CountDownLatch answer = new CountDownLatch(1);
        CompletableFuture<String> served = CompletableFuture.supplyAsync(() -> {
            try (Socket raw = slow.accept()) {
                answer.await(10, TimeUnit.SECONDS);
                SSLSocket ssl = new ClusterTls(new ClusterPeers(cluster, "lb2"), () -> keys).layer(raw, false);
                ssl.startHandshake();
                ssl.setSoTimeout(5_000);
                try {
                    // JGroups' acceptor waits here for the peer's address (peer_addr_read_timeout, 500 ms)
                    return ssl.getInputStream().read() == -1 ? "closed" : "sent something";
                } catch (java.net.SocketTimeoutException e) {
                    return "left open";
                } catch (java.io.IOException e) {
                    return "closed"; // reset: closed with SO_LINGER 0
                }
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });

        assertThatThrownBy(() -> lb1.dialer().connect(target, options(), 500))
                .isInstanceOf(SocketException.class).hasMessageContaining("in the background");
        answer.countDown();

        assertThat(served.get(10, TimeUnit.SECONDS)).as("what the peer sees of the unclaimed connection")
                .isEqualTo("closed");
    }

    /**
     * On one host, a connect to a port nobody listens on can be given that same port as its own:
     * TCP's simultaneous open connects the socket to itself, and a TLS handshake would then read
     * its own hello ("refused the handshake", blamed on the key). Forced here by binding to it.
     */
    @Test
    void aConnectThatMeetsItselfIsANobodyListensNotARefusedHandshake() throws Exception {
        int nobody;
        try (ServerSocket free = new ServerSocket(0, 1, LOOPBACK)) {
            nobody = free.getLocalPort();
        }
        GuardedSocketFactory lb1 = factory(cluster(nobody));
        Dialer.Options sameLocalPort = new Dialer.Options(LOOPBACK, nobody, true, false, -1, 0, 0);

        assertThatThrownBy(() -> lb1.dialer().connect(new InetSocketAddress(LOOPBACK, nobody), sameLocalPort, 500))
                .isInstanceOf(java.net.ConnectException.class).hasMessageContaining("connected to itself");
        assertThat(lb1.outboundFailure()).as("no handshake was refused").isEmpty();
        assertThat(lb1.stats().refusedConnections()).isEmpty();
    }

    private ServerSocket listen() throws Exception {
        ServerSocket socket = new ServerSocket(0, 50, LOOPBACK);
        resources.add(socket);
        return socket;
    }

    private GuardedSocketFactory factory(ClusterConfig cluster) {
        GuardedSocketFactory factory = new GuardedSocketFactory(new ClusterTls(new ClusterPeers(cluster, "lb1"),
                () -> keys), new WireStats(LogManager.getLogger(DialerTest.class)));
        resources.add(factory);
        return factory;
    }

    private static ClusterConfig cluster(int lb2Port) throws Exception {
        int lb1Port;
        try (ServerSocket free = new ServerSocket(0, 1, LOOPBACK)) {
            lb1Port = free.getLocalPort();
        }
        return new ClusterConfig("dial-" + lb2Port, List.of(
                new NodeConfig("lb1", new HostPort("127.0.0.1", lb1Port), NodeConfig.DEFAULT_ADMIN, 200),
                new NodeConfig("lb2", new HostPort("127.0.0.1", lb2Port), NodeConfig.DEFAULT_ADMIN, 100)),
                false, null, null);
    }

    private static Dialer.Options options() throws Exception {
        try (Socket unconnected = new Socket()) {
            unconnected.setTcpNoDelay(true);
            return Dialer.Options.of(unconnected);
        }
    }
}
