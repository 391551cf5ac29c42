package io.baton.cluster;

import io.baton.host.TcpDiag;
import io.baton.host.TestNetwork;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A peer's host judged from the kernel's own account of a real connection (needs root): a peer
 * process in a namespace of its own holds a TCP connection to this JVM, which sends it a
 * heartbeat every 30 ms and never hears back, as a cluster node hears nothing from a starved one.
 */
class PeerKernelNamespaceTest {

    private final TestNetwork network = new TestNetwork();
    private final ScheduledExecutorService heartbeats = Executors.newSingleThreadScheduledExecutor();
    private Process peer;

    @AfterEach
    void cleanUp() {
        heartbeats.shutdownNow();
        if (peer != null) {
            TestNetwork.succeeds("kill", "-CONT", Long.toString(peer.pid()));
            peer.destroyForcibly();
        }
        network.close();
    }

    @Test
    void aStoppedProcessWhoseHostIsUpAnswersAndAHostWhoseLinkIsDownIsSilent() throws Exception {
        String host = network.namespace("p");
        String left = "v" + network.id + "a";
        String right = "v" + network.id + "b";
        network.veth(left, null, right, host);
        TestNetwork.run("ip", "addr", "add", network.subnet + "1/24", "dev", left);
        network.address(host, right, network.subnet + "2/24");

        try (ServerSocket server = new ServerSocket()) {
            server.bind(new InetSocketAddress(InetAddress.getByName(network.subnet + "1"), 0));
            InetSocketAddress self = (InetSocketAddress) server.getLocalSocketAddress();
            // the peer: a process that connects to this node's port and never reads or writes
            peer = new ProcessBuilder("ip", "netns", "exec", host, "bash", "-c",
                    "exec 3<>/dev/tcp/" + network.subnet + "1/" + self.getPort() + " && exec sleep 120")
                    .redirectErrorStream(true).start();
            server.setSoTimeout(10_000);
            Socket accepted = server.accept();
            InetSocketAddress peerAddress = new InetSocketAddress(InetAddress.getByName(network.subnet + "2"), 7800);
            OutputStream out = accepted.getOutputStream();
            heartbeats.scheduleAtFixedRate(() -> {
                try {
                    out.write(new byte[64]);
                } catch (Exception e) {
                    // the link is down: the kernel keeps what it cannot send
                }
            }, 0, 30, TimeUnit.MILLISECONDS);

            await().atMost(Duration.ofSeconds(10)).until(() -> judge(self, peerAddress) == PeerKernel.ANSWERING);

            // the peer process is stopped: its kernel still acknowledges every segment
            TestNetwork.run("kill", "-STOP", Long.toString(peer.pid()));
            long stoppedAt = System.nanoTime();
            await().atMost(Duration.ofSeconds(10)).until(() -> System.nanoTime() - stoppedAt > 500_000_000L);
            assertThat(judge(self, peerAddress)).isEqualTo(PeerKernel.ANSWERING);

            // the peer's link goes down: nothing is acknowledged any more
            TestNetwork.run("ip", "-n", host, "link", "set", right, "down");
            await().atMost(Duration.ofSeconds(10)).until(() -> judge(self, peerAddress) == PeerKernel.SILENT);
            assertThat(TcpDiag.established()).anySatisfy(connection -> {
                assertThat(connection.local()).isEqualTo(self);
                assertThat(connection.remote().getAddress()).isEqualTo(peerAddress.getAddress());
                assertThat(connection.unackedSegments()).isPositive();
                assertThat(connection.lastAckReceivedMillis()).isGreaterThanOrEqualTo(PeerKernel.FRESH_ACK_MILLIS);
            });
        }
    }

    private static PeerKernel judge(InetSocketAddress self, InetSocketAddress peer) throws Exception {
        return PeerKernel.judge(TcpDiag.established(), self, peer);
    }
}
