package io.baton.health;

import io.baton.config.ConfigParser;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Real servers that misbehave on purpose, each beside 20 healthy ones checked by the same monitor:
 * the hostile one goes DOWN with a reason that says what it did, no healthy one ever leaves UP,
 * and what the checks allocate and keep stays bounded (measured on the monitor's own threads).
 */
class HostileServersTest {

    private static final int HEALTHY = 20;
    /** What the health workers may allocate in the whole run: bounded reads make it a few MB. */
    private static final long ALLOCATION_LIMIT = 96L << 20;
    /** What the heap may keep after the run, over what it kept before. */
    private static final long RETAINED_LIMIT = 32L << 20;

    private final Peers peers = new Peers();
    private final List<ServerSocket> sockets = new CopyOnWriteArrayList<>();
    private final ExecutorService hostile = Executors.newCachedThreadPool();
    private final Map<String, HealthState> states = new ConcurrentHashMap<>();
    private final Map<String, String> reasons = new ConcurrentHashMap<>();
    private final List<String> healthyDown = new CopyOnWriteArrayList<>();
    private final HealthMonitor monitor = new HealthMonitor((service, server, state, result) -> {
        states.put(server, state);
        reasons.put(server, result.reason());
        if (server.startsWith("good") && state == HealthState.DOWN) {
            healthyDown.add(server + ": " + result.reason());
        }
    });

    @AfterEach
    void stop() throws Exception {
        monitor.close();
        peers.close();
        hostile.shutdownNow();
        for (ServerSocket socket : sockets) {
            socket.close();
        }
    }

    /** A hostile server: what it does to each client, and the check type that meets it. */
    private interface Behaviour {
        void serve(Socket client) throws Exception;
    }

    record Case(String name, String check, Behaviour behaviour, String reason) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Case> hostileServers() {
        return Stream.of(
                new Case("an endless SMTP greeting, a line every 50 ms", "smtp",
                        client -> lines(client, "220-x\r\n", 50), "reading the SMTP greeting"),
                new Case("an SMTP greeting flooded as fast as the link goes", "smtp",
                        client -> lines(client, "220-" + "x".repeat(1000) + "\r\n", 0), "more than"),
                new Case("an endless FTP greeting", "ftp",
                        client -> lines(client, "220-x\r\n", 50), "reading the FTP greeting"),
                new Case("a POP3 greeting line that never ends", "pop3",
                        client -> lines(client, "+OK xxxxxxxx", 20), "reading the POP3 greeting"),
                new Case("an IMAP greeting line that never ends", "imap",
                        client -> lines(client, "* OK xxxxxxxx", 20), "reading the IMAP greeting"),
                new Case("a TLS server that never finishes its handshake", "https",
                        HostileServersTest::dribbledHandshake, "in the TLS handshake"),
                new Case("an HTTP server that dribbles its head", "http",
                        client -> {
                            readRequest(client);
                            lines(client, "HTTP/1.1 200 OK\r\n", 0);
                            lines(client, "X-Slow: y\r\n", 50);
                        }, "reading the HTTP headers"),
                new Case("an MLLP peer that dribbles its acknowledgement", "hl7",
                        client -> {
                            readMllpFrame(client);
                            lines(client, "\u000B", 0);
                            lines(client, "x", 50);
                        }, "waiting for the HL7 acknowledgement"),
                new Case("an MLLP frame flooded without end", "hl7",
                        client -> {
                            readMllpFrame(client);
                            lines(client, "\u000B", 0);
                            lines(client, "x".repeat(1000), 0);
                        }, "an MLLP frame longer than 65536 bytes"),
                new Case("a DICOM peer that streams command fragments without the last one", "dicom-echo",
                        HostileServersTest::endlessFragments, "without the last one"),
                new Case("a DICOM archive that streams matches and ignores C-CANCEL", "dicom-find",
                        HostileServersTest::endlessMatches, "C-FIND to end after C-CANCEL-RQ"),
                new Case("a DICOM peer that declares a 2 GiB PDU", "dicom-echo",
                        client -> {
                            readPdu(client);
                            OutputStream out = client.getOutputStream();
                            out.write(new byte[] {0x02, 0, (byte) 0x80, 0, 0, 0});
                            lines(client, "x".repeat(8192), 0);
                        }, "declaring 2147483648 bytes"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("hostileServers")
    void aHostileServerGoesDownWithItsReasonAndTheOthersStayUp(Case hostileCase) throws Exception {
        int hostilePort = serve(hostileCase.behaviour());
        int good = peers.http();
        StringBuilder servers = new StringBuilder();
        for (int i = 0; i < HEALTHY; i++) {
            servers.append("      - { name: good").append(i).append(", address: 127.0.0.1:").append(good).append(" }\n");
        }
        String bodyRegex = hostileCase.check().equals("http") ? ", path: /, body-regex: never" : "";
        String yaml = """
                cluster: { name: t, nodes: [{ id: n, address: 127.0.0.1:7800 }] }
                vips: [{ name: v, address: 127.0.0.100/32, interface: lo }]
                services:
                  - name: hostile
                    vip: v
                    ports: [80]
                    mode: l7-snat
                    check: { type: %s%s, interval: 200ms, timeout: 1s, rise: 1, fall: 1 }
                    servers:
                      - { name: bad, address: 127.0.0.1:%d }
                  - name: web
                    vip: v
                    ports: [81]
                    mode: l7-snat
                    check: { type: http, path: /ok, interval: 300ms, timeout: 2s, rise: 1, fall: 1 }
                    servers:
                %s
                """.formatted(hostileCase.check(), bodyRegex, hostilePort, servers);
        long retainedBefore = retainedHeap();

        monitor.apply(ConfigParser.parse(yaml, ConfigParser.Format.YAML));

        await().atMost(Duration.ofSeconds(10)).until(() -> states.get("bad") == HealthState.DOWN
                && states.entrySet().stream().filter(entry -> entry.getKey().startsWith("good"))
                .filter(entry -> entry.getValue() == HealthState.UP).count() == HEALTHY);
        assertThat(reasons.get("bad")).contains(hostileCase.reason());
        // the hostile server's checks go on, one after another, for several of its timeouts
        java.time.Instant mark = java.time.Instant.now().plusSeconds(4);
        await().atMost(Duration.ofSeconds(20)).until(() ->
                monitor.health("hostile", "bad").orElseThrow().last().at().isAfter(mark));
        assertThat(healthyDown).as("healthy servers that went DOWN").isEmpty();
        assertThat(monitor.health("hostile", "bad").orElseThrow().state()).isEqualTo(HealthState.DOWN);
        assertThat(workerAllocations()).as("bytes the health workers allocated").isLessThan(ALLOCATION_LIMIT);
        monitor.close();
        assertThat(retainedHeap() - retainedBefore).as("heap kept after the run").isLessThan(RETAINED_LIMIT);
    }

    /** What the monitor's worker threads have allocated since they started (they start with the monitor). */
    private static long workerAllocations() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long total = 0;
        for (Thread thread : Thread.getAllStackTraces().keySet()) {
            if (thread.getName().startsWith("baton-health-")) {
                total += Math.max(0, threads.getThreadAllocatedBytes(thread.getId()));
            }
        }
        return total;
    }

    private static long retainedHeap() {
        Runtime runtime = Runtime.getRuntime();
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return runtime.totalMemory() - runtime.freeMemory();
    }

    private int serve(Behaviour behaviour) throws IOException {
        ServerSocket socket = new ServerSocket(0, 64, InetAddress.getLoopbackAddress());
        sockets.add(socket);
        hostile.submit(() -> {
            while (!socket.isClosed()) {
                Socket client;
                try {
                    client = socket.accept();
                } catch (IOException e) {
                    return;
                }
                hostile.submit(() -> {
                    try (client) {
                        behaviour.serve(client);
                    } catch (Exception e) {
                        // the check gave up and closed: what a hostile server expects
                    }
                });
            }
        });
        return socket.getLocalPort();
    }

    /** Writes {@code text} every {@code gapMillis} (0: as fast as the socket takes it) until the client leaves. */
    private static void lines(Socket client, String text, long gapMillis) throws Exception {
        OutputStream out = client.getOutputStream();
        byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < 1_000_000; i++) {
            out.write(bytes);
            out.flush();
            if (gapMillis > 0) {
                Thread.sleep(gapMillis);
            } else if (text.startsWith("HTTP/") || text.equals("\u000B")) {
                return; // a status line or an MLLP start once, then the dribble
            }
        }
    }

    /** Reads the ClientHello, then sends the start of a ServerHello one byte every 100 ms, for ever. */
    private static void dribbledHandshake(Socket client) throws Exception {
        InputStream in = client.getInputStream();
        in.read(new byte[16384]);
        OutputStream out = client.getOutputStream();
        byte[] record = {0x16, 0x03, 0x03, 0x40, 0x00, 0x02, 0x00, 0x3F, (byte) 0xFC, 0x03, 0x03};
        for (int i = 0; i < 1_000_000; i++) {
            out.write(record[Math.min(i, record.length - 1)]);
            out.flush();
            Thread.sleep(100);
        }
    }

    /** Accepts the association, reads the C-ECHO-RQ, then streams command fragments that never end. */
    private static void endlessFragments(Socket client) throws Exception {
        readPdu(client);
        OutputStream out = client.getOutputStream();
        byte[] accept = new byte[68 + 8];
        accept[1] = 1; // protocol version
        System.arraycopy(new byte[] {0x21, 0, 0, 4, 1, 0, 0, 0}, 0, accept, 68, 8);
        out.write(pdu(0x02, accept));
        out.flush();
        readPdu(client);
        byte[] fragment = new byte[16000];
        Arrays.fill(fragment, (byte) 'x');
        ByteBuffer pdv = ByteBuffer.allocate(4 + 2 + fragment.length);
        pdv.putInt(2 + fragment.length).put((byte) 1).put((byte) 0x01).put(fragment); // command, not the last
        byte[] pdata = pdu(0x04, pdv.array());
        for (int i = 0; i < 1_000_000; i++) {
            out.write(pdata);
        }
    }

    /** Accepts the association, reads the C-FIND-RQ, then answers with pending matches for ever. */
    private static void endlessMatches(Socket client) throws Exception {
        readPdu(client);
        OutputStream out = client.getOutputStream();
        byte[] accept = new byte[68 + 8];
        accept[1] = 1; // protocol version
        System.arraycopy(new byte[] {0x21, 0, 0, 4, 1, 0, 0, 0}, 0, accept, 68, 8);
        out.write(pdu(0x02, accept));
        out.flush();
        readPdu(client);
        readPdu(client);
        ByteBuffer command = ByteBuffer.allocate(30).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        command.putShort((short) 0).putShort((short) 0x0100).putInt(2).putShort((short) 0x8020);
        command.putShort((short) 0).putShort((short) 0x0800).putInt(2).putShort((short) 0x0000);
        command.putShort((short) 0).putShort((short) 0x0900).putInt(2).putShort((short) 0xFF00);
        ByteBuffer pdv = ByteBuffer.allocate(6 + 30).putInt(32).put((byte) 1).put((byte) 0x03).put(command.array());
        byte[] match = "x".repeat(200).getBytes(StandardCharsets.US_ASCII);
        ByteBuffer data = ByteBuffer.allocate(6 + match.length).putInt(2 + match.length).put((byte) 1).put((byte) 0x02)
                .put(match);
        byte[] pending = pdu(0x04, pdv.array());
        byte[] dataPdu = pdu(0x04, data.array());
        for (int i = 0; i < 1_000_000; i++) {
            out.write(pending);
            out.write(dataPdu);
            out.flush();
            Thread.sleep(20);
        }
    }

    private static byte[] pdu(int type, byte[] body) {
        return ByteBuffer.allocate(6 + body.length).put((byte) type).put((byte) 0).putInt(body.length).put(body).array();
    }

    private static void readPdu(Socket client) throws IOException {
        DataInputStream in = new DataInputStream(client.getInputStream());
        byte[] header = new byte[6];
        in.readFully(header);
        in.readFully(new byte[ByteBuffer.wrap(header, 2, 4).getInt()]);
    }

    /** Reads one MLLP frame: up to 0x1C 0x0D. */
    private static void readMllpFrame(Socket client) throws IOException {
        InputStream in = client.getInputStream();
        int previous = -1;
        int b;
        while ((b = in.read()) >= 0 && !(previous == 0x1C && b == 0x0D)) {
            previous = b;
        }
    }

    private static void readRequest(Socket client) throws IOException {
        InputStream in = client.getInputStream();
        List<Integer> last = new ArrayList<>();
        int b;
        while ((b = in.read()) >= 0) {
            last.add(b);
            if (last.size() > 4) {
                last.remove(0);
            }
            if (last.equals(List.of(13, 10, 13, 10))) {
                return;
            }
        }
    }
}
