package io.baton.cluster;

import io.baton.cluster.wire.ClusterCodec;
import io.baton.cluster.wire.ClusterKeys;
import io.baton.cluster.wire.ClusterMessage;
import io.baton.cluster.wire.TlsTestClient;
import io.baton.config.ClusterConfig;
import io.baton.config.HostPort;
import io.baton.config.NodeConfig;
import org.jgroups.BytesMessage;
import org.jgroups.JChannel;
import org.jgroups.Message;
import org.jgroups.Receiver;
import org.jgroups.Version;
import org.jgroups.protocols.FD_ALL3;
import org.jgroups.protocols.FRAG2;
import org.jgroups.protocols.MERGE3;
import org.jgroups.protocols.TCP;
import org.jgroups.protocols.TCPPING;
import org.jgroups.protocols.UNICAST3;
import org.jgroups.protocols.VERIFY_SUSPECT2;
import org.jgroups.protocols.pbcast.GMS;
import org.jgroups.protocols.pbcast.NAKACK2;
import org.jgroups.protocols.pbcast.STABLE;
import org.jgroups.stack.IpAddress;
import org.jgroups.util.ByteArrayDataOutputStream;
import org.jgroups.util.Util;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * A pair on loopback (lb1 on 127.0.0.1, lb2 on 127.0.0.2) against a host without the key: a
 * JGroups member of its own, raw frames, absurd lengths, idle connections, a replayed session,
 * from an address that is no node's (127.0.0.3) and from a node's own address. Whatever it does,
 * the pair keeps its view, its active node and its config, and each node's thread count stays
 * bounded.
 */
class HostileHostTest {

    private static final InetAddress LB1 = address("127.0.0.1");
    private static final InetAddress LB2 = address("127.0.0.2");
    private static final InetAddress OUTSIDER = address("127.0.0.3");

    @TempDir
    Path dir;

    private ClusterConfig cluster;
    private ClusterNode lb1;
    private ClusterNode lb2;
    private final List<String> configsReceived = new CopyOnWriteArrayList<>();
    private final List<AutoCloseable> closeLast = new ArrayList<>();

    @BeforeEach
    void formThePair() throws Exception {
        Path key = dir.resolve("cluster.key");
        ClusterKeys.generate(key);
        cluster = new ClusterConfig("hostile-" + freePort(LB1), List.of(
                new NodeConfig("lb1", new HostPort("127.0.0.1", freePort(LB1)), NodeConfig.DEFAULT_ADMIN, 200),
                new NodeConfig("lb2", new HostPort("127.0.0.2", freePort(LB2)), NodeConfig.DEFAULT_ADMIN, 100)),
                false, null, key.toString());
        lb1 = join("lb1", 200, key);
        lb2 = join("lb2", 100, key);
        await().atMost(Duration.ofSeconds(15)).until(() -> lb1.members().size() == 2 && lb2.members().size() == 2
                && "lb1".equals(lb1.decision().active()) && "lb1".equals(lb2.decision().active()));
    }

    @AfterEach
    void tearDown() throws Exception {
        for (AutoCloseable closeable : closeLast) {
            closeable.close();
        }
        lb2.close();
        lb1.close();
    }

    @Test
    void aJGroupsMemberWithoutTheKeyCannotJoinReadTheConfigOrSteerTheRole() throws Exception {
        for (InetAddress from : List.of(OUTSIDER, LB1)) {
            List<Message> heard = new CopyOnWriteArrayList<>();
            JChannel intruder = intruder(from, heard);
            closeLast.add(intruder);

            intruder.connect(cluster.name());
            // what the intruder multicast: no active node, then a config of its own
            intruder.send(new BytesMessage(null, ClusterCodec.encode(
                    new ClusterMessage.Decided(null, 999_999, "forged by intruder", false))));
            intruder.send(new BytesMessage(null, ClusterCodec.encode(new ClusterMessage.Config(50, "{}"))));
            intruder.send(new BytesMessage(null, ClusterCodec.encode(new ClusterMessage.ConfigRequest())));

            assertPairUnmoved(Duration.ofSeconds(3));
            assertThat(intruder.getView().getMembers()).as("the intruder is alone in its view").hasSize(1);
            assertThat(heard).as("the intruder heard nothing (no config, no info)").isEmpty();
            intruder.close();
        }
        assertThat(lb1.wireStats().refusedConnections()).containsKey("not-a-node-address")
                .containsKey("handshake-failed");
    }

    @Test
    void rawFramesWithoutJoiningAndAbsurdLengthsAreDroppedBeforeAnythingIsParsed() throws Exception {
        byte[] forgedConfig = frame(ClusterCodec.encode(new ClusterMessage.Config(77, "{}")), -1);
        byte[] absurdFrame = lengthPrefixed(new byte[16], Integer.MAX_VALUE);
        byte[] absurdPayload = frame(new byte[8], Integer.MAX_VALUE);
        for (InetAddress from : List.of(OUTSIDER, LB1, LB2)) {
            for (byte[] attack : List.of(forgedConfig, absurdFrame, absurdPayload)) {
                for (HostPort target : List.of(address(lb1), address(lb2))) {
                    assertThat(sendAndAwaitClose(from, target, attack))
                            .as("%s closes the connection from %s", target, from).isTrue();
                }
            }
        }

        assertPairUnmoved(Duration.ofSeconds(1));
        assertThat(lb1.wireStats().droppedMessages()).as("nothing got as far as a message").isEmpty();
    }

    @Test
    void fifteenHundredIdleConnectionsCostBoundedThreadsAndTheClusterKeepsWorking() throws Exception {
        int before = ManagementFactory.getThreadMXBean().getThreadCount();
        List<Socket> idle = new ArrayList<>();
        closeLast.add(() -> idle.forEach(HostileHostTest::closeQuietly));
        for (int i = 0; i < 1500; i++) {
            InetAddress from = i % 2 == 0 ? OUTSIDER : LB1;
            HostPort target = i % 3 == 0 ? address(lb2) : address(lb1);
            Socket socket = new Socket();
            socket.bind(new InetSocketAddress(from, 0));
            try {
                socket.connect(new InetSocketAddress(target.host(), target.port()), 1000);
            } catch (IOException refusedUnderLoad) {
                closeQuietly(socket);
                continue;
            }
            idle.add(socket);
        }
        int peak = ManagementFactory.getThreadMXBean().getThreadCount();

        // while they are open: the pair still talks (a change of lb2 reaches lb1) and nothing moved
        lb2.update(new MemberInfo("lb2", 100, 1, false, false, "is being watched"));
        await().atMost(Duration.ofSeconds(5)).until(() -> {
            MemberInfo seen = lb1.infos().get("lb2");
            return seen != null && !seen.ready();
        });
        assertThat(lb1.decision().active()).isEqualTo("lb1");
        assertThat(lb1.members()).containsExactly("lb1", "lb2");
        peak = Math.max(peak, ManagementFactory.getThreadMXBean().getThreadCount());
        assertThat(peak - before).as("threads added by 1 500 idle connections (%d before)", before)
                .isLessThanOrEqualTo(2 * 4 + 4);
        assertThat(lb1.wireStats().refusedConnections()).containsKeys("not-a-node-address", "too-many-handshakes");
        // the handshakes that were let in never complete: their deadline closes them
        await().atMost(Duration.ofSeconds(10)).until(() ->
                lb1.wireStats().refusedConnections().containsKey("handshake-timeout"));
    }

    @Test
    void aHandshakeSentByteByByteIsClosedAtItsDeadline() throws Exception {
        ByteArrayOutputStream genuine = new ByteArrayOutputStream();
        TlsTestClient.session(cluster, "lb2", ClusterKeys.read(Path.of(cluster.keyFile())), LB2, address(lb1),
                new byte[0], genuine);
        byte[] clientHello = genuine.toByteArray();
        try (Socket slow = new Socket()) {
            slow.bind(new InetSocketAddress(LB2, 0));
            slow.connect(new InetSocketAddress(address(lb1).host(), address(lb1).port()), 2000);
            OutputStream out = slow.getOutputStream();
            java.util.concurrent.atomic.AtomicInteger sent = new java.util.concurrent.atomic.AtomicInteger();
            // a real ClientHello, one byte every 200 ms: each read is quick, the whole would take minutes
            await().atMost(Duration.ofSeconds(8)).pollInterval(Duration.ofMillis(200)).until(() -> {
                try {
                    out.write(clientHello[sent.getAndIncrement() % clientHello.length]);
                    out.flush();
                    return false;
                } catch (IOException closedByNode) {
                    return true;
                }
            });
            assertThat(sent.get()).as("bytes sent before the node closed it").isLessThan(clientHello.length);
        }
        await().atMost(Duration.ofSeconds(5)).until(() ->
                lb1.wireStats().refusedConnections().containsKey("handshake-timeout"));
        assertPairUnmoved(Duration.ofMillis(500));
    }

    @Test
    void aTlsClientThatIsNotTheConfiguredNodeIsRefused() throws Exception {
        ClusterKeys rightKeys = ClusterKeys.read(Path.of(cluster.keyFile()));
        // the right key, but claiming lb1's identity from lb2's address; and no key at all
        assertThat(tlsHandshake(LB2, "lb1", rightKeys)).isFalse();
        assertThat(tlsHandshake(LB2, "lb2", ClusterKeys.ephemeral())).isFalse();
        // the control: the right key as lb2 from lb2's address is let in; the message it then sends
        // names a sender that is no configured node, and is dropped before it is decoded
        assertThat(tlsHandshake(LB2, "lb2", rightKeys)).isTrue();
        await().atMost(Duration.ofSeconds(5)).until(() ->
                lb1.wireStats().droppedMessages().containsKey("unknown-sender"));

        assertThat(lb1.wireStats().refusedConnections()).containsKey("not-authenticated");
        assertPairUnmoved(Duration.ofMillis(500));
    }

    @Test
    void aCapturedSessionReplayedLaterIsRefused() throws Exception {
        ClusterKeys rightKeys = ClusterKeys.read(Path.of(cluster.keyFile()));
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        // a genuine session of lb2's (handshake, then application data), every byte it sent recorded
        byte[] applicationData = frame(ClusterCodec.encode(new ClusterMessage.Config(90, "{}")), -1);
        assertThat(TlsTestClient.session(cluster, "lb2", rightKeys, LB2, address(lb1), applicationData, captured))
                .isTrue();
        long failedBefore = lb1.wireStats().refusedConnections().getOrDefault("handshake-failed", 0L);

        assertThat(sendAndAwaitClose(LB2, address(lb1), captured.toByteArray())).isTrue();

        await().atMost(Duration.ofSeconds(5)).until(() ->
                lb1.wireStats().refusedConnections().getOrDefault("handshake-failed", 0L) > failedBefore);
        assertPairUnmoved(Duration.ofMillis(500));
    }

    @Test
    void theClusterListensOnItsConfiguredPortsOnlyNoFailureDetectionPortInClear() throws Exception {
        Set<Integer> listening = TlsTestClient.listeningPortsOfThisProcess();

        assertThat(listening).contains(address(lb1).port(), address(lb2).port());
        for (int port : listening) {
            assertThat(port).as("no port but the configured cluster ports (FD_SOCK2 used cluster port + 100)")
                    .isIn(address(lb1).port(), address(lb2).port());
        }
        assertThatThrownBy(() -> new Socket(LB1, address(lb1).port() + 100).close())
                .isInstanceOf(ConnectException.class);
    }

    /** During {@code period}: both nodes see both, lb1 stays active at epoch 1, no config arrives. */
    private void assertPairUnmoved(Duration period) {
        await().during(period).atMost(period.plusSeconds(5)).until(() ->
                lb1.members().equals(List.of("lb1", "lb2")) && lb2.members().equals(List.of("lb1", "lb2"))
                        && "lb1".equals(lb1.decision().active()) && "lb1".equals(lb2.decision().active())
                        && lb1.decision().epoch() == 1 && lb2.decision().epoch() == 1
                        && configsReceived.isEmpty());
    }

    private ClusterNode join(String id, int priority, Path key) throws ClusterException {
        ClusterNode node = ClusterNode.join(cluster, id, new MemberInfo(id, priority, 1, true), key,
                (decision, merged) -> {
                });
        node.subscribe((from, message) -> {
            if (!(message instanceof ClusterMessage.Head)) {
                configsReceived.add(id + " got " + message.getClass().getSimpleName() + " from " + from);
            }
        });
        node.startDelivering();
        return node;
    }

    private HostPort address(ClusterNode node) {
        return cluster.node(node.self()).orElseThrow().clusterAddress();
    }

    /** A plain JGroups member, as the intruder was: the stack JGroups ships, on the cluster's peers. */
    private JChannel intruder(InetAddress from, List<Message> heard) throws Exception {
        List<InetSocketAddress> hosts = List.of(
                new InetSocketAddress(address(lb1).host(), address(lb1).port()),
                new InetSocketAddress(address(lb2).host(), address(lb2).port()));
        TCP transport = new TCP();
        transport.setBindAddress(from).setBindPort(freePort(from));
        transport.setClientBindAddr(from);
        JChannel channel = new JChannel(
                transport,
                new TCPPING().initialHosts(hosts),
                new MERGE3(), new FD_ALL3(), new VERIFY_SUSPECT2(),
                new NAKACK2(), new UNICAST3(), new STABLE(), new GMS().setJoinTimeout(1000), new FRAG2());
        channel.setName("intruder");
        channel.setDiscardOwnMessages(true);
        channel.setReceiver(new Receiver() {
            @Override
            public void receive(Message message) {
                heard.add(message);
            }
        });
        return channel;
    }

    /**
     * The bytes a JGroups peer sends after connecting: its cookie, version and address, then one
     * length-prefixed frame with one message; {@code declaredPayload} (if not -1) overwrites the
     * message's payload length, as the 2 GiB frame did.
     */
    private static byte[] frame(byte[] payload, int declaredPayload) throws Exception {
        ByteArrayDataOutputStream message = new ByteArrayDataOutputStream(256);
        Util.writeMessage(new BytesMessage(null, payload).setSrc(org.jgroups.util.UUID.randomUUID()), message, true);
        byte[] body = java.util.Arrays.copyOf(message.buffer(), message.position());
        if (declaredPayload != -1) {
            ByteArrayOutputStream patched = new ByteArrayOutputStream();
            new DataOutputStream(patched).writeInt(payload.length);
            int at = indexOf(body, patched.toByteArray());
            java.nio.ByteBuffer.wrap(body).putInt(at, declaredPayload);
        }
        return lengthPrefixed(body, body.length);
    }

    private static byte[] lengthPrefixed(byte[] body, int declaredLength) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.write(new byte[] {'b', 'e', 'l', 'a'});
        out.writeShort(Version.version);
        IpAddress self = new IpAddress("127.0.0.3", 7999);
        out.writeShort(self.serializedSize());
        self.writeTo(out);
        out.writeInt(declaredLength);
        out.write(body);
        return bytes.toByteArray();
    }

    /** Writes {@code bytes} from {@code from} and waits for the node to close the connection. */
    static boolean sendAndAwaitClose(InetAddress from, HostPort target, byte[] bytes) throws IOException {
        try (Socket socket = new Socket()) {
            socket.bind(new InetSocketAddress(from, 0));
            socket.setSoTimeout(10_000);
            try {
                // on loopback the node's reset can beat the end of connect()
                socket.connect(new InetSocketAddress(target.host(), target.port()), 2000);
                OutputStream out = socket.getOutputStream();
                out.write(bytes);
                out.flush();
                InputStream in = socket.getInputStream();
                byte[] buffer = new byte[4096];
                while (in.read(buffer) != -1) {
                    // a TLS alert, at most
                }
            } catch (java.net.SocketTimeoutException e) {
                return false;
            } catch (IOException closedByNode) {
                return true;
            }
            return true;
        }
    }

    private boolean tlsHandshake(InetAddress from, String as, ClusterKeys keys) throws Exception {
        return TlsTestClient.session(cluster, as, keys, from, address(lb1), frame(new byte[0], -1),
                new ByteArrayOutputStream());
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            if (java.util.Arrays.equals(haystack, i, i + needle.length, needle, 0, needle.length)) {
                return i;
            }
        }
        throw new IllegalStateException("not found");
    }

    private static int freePort(InetAddress on) throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, on)) {
            return socket.getLocalPort();
        }
    }

    private static InetAddress address(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException ignored) {
            // test cleanup
        }
    }
}
