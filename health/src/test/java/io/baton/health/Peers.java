package io.baton.health;

import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;

/** Real peers for the checks: DCMTK processes, HTTP servers, greeting and silent TCP servers. */
final class Peers implements AutoCloseable {

    private final List<Process> processes = new CopyOnWriteArrayList<>();
    /** Added to by accept threads while close() may be walking it. */
    private final List<AutoCloseable> servers = new CopyOnWriteArrayList<>();
    private final ExecutorService executor = Executors.newCachedThreadPool();

    /** DCMTK's storescp: accepts Verification whatever the called AE title. */
    int storescp(Path dir) throws IOException {
        int port = freePort();
        start(dir, "storescp", "-aet", "PACS", String.valueOf(port));
        return port;
    }

    /** DCMTK's dcmqrscp: knows the AE title PACS and rejects any other called AE title. */
    int dcmqrscp(Path dir) throws IOException {
        int port = freePort();
        Path db = Files.createDirectories(dir.resolve("db"));
        Path config = dir.resolve("dcmqrscp.cfg");
        Files.writeString(config, """
                NetworkTCPPort  = %d
                MaxPDUSize      = 16384
                MaxAssociations = 16
                HostTable BEGIN
                HostTable END
                VendorTable BEGIN
                VendorTable END
                AETable BEGIN
                PACS %s RW (9, 1024mb) ANY
                AETable END
                """.formatted(port, db));
        start(dir, "dcmqrscp", "-c", config.toString(), String.valueOf(port));
        return port;
    }

    /**
     * Stores one study of today (a secondary capture made with DCMTK's dump2dcm) into the
     * {@link #dcmqrscp} at {@code port}, with DCMTK's storescu.
     */
    void storeStudyOfToday(Path dir, int port) throws Exception {
        Path dump = dir.resolve("study.dump");
        Files.writeString(dump, """
                (0008,0016) UI =SecondaryCaptureImageStorage
                (0008,0018) UI [1.2.826.0.1.3680043.2.1125.1.1]
                (0008,0020) DA [%s]
                (0008,0060) CS [OT]
                (0010,0010) PN [Test^Patient]
                (0010,0020) LO [P1]
                (0020,000d) UI [1.2.826.0.1.3680043.2.1125.1]
                (0020,000e) UI [1.2.826.0.1.3680043.2.1125.1.2]
                (0020,0013) IS [1]
                """.formatted(java.time.format.DateTimeFormatter.BASIC_ISO_DATE.format(java.time.LocalDate.now())));
        Path file = dir.resolve("study.dcm");
        for (List<String> command : List.of(List.of("dump2dcm", dump.toString(), file.toString()),
                List.of("storescu", "-aec", "PACS", "127.0.0.1", String.valueOf(port), file.toString()))) {
            Process process = new ProcessBuilder(command).redirectErrorStream(true)
                    .redirectOutput(dir.resolve(command.get(0) + ".log").toFile()).start();
            if (!process.waitFor(30, TimeUnit.SECONDS) || process.exitValue() != 0) {
                process.destroyForcibly();
                throw new IllegalStateException(String.join(" ", command) + " failed: "
                        + Files.readString(dir.resolve(command.get(0) + ".log")));
            }
        }
    }

    /**
     * A query/retrieve SCP that accepts any association and answers every C-FIND-RQ with {@code status}
     * and {@code errorComment}: what an overloaded archive does.
     */
    int dicomFindFailing(int status, String errorComment) throws IOException {
        return serve(client -> {
            try (client) {
                java.io.DataInputStream in = new java.io.DataInputStream(client.getInputStream());
                OutputStream out = client.getOutputStream();
                readPdu(in);                                  // A-ASSOCIATE-RQ
                byte[] accept = new byte[68 + 8];
                accept[1] = 1;                                // protocol version
                System.arraycopy(new byte[] {0x21, 0, 0, 4, 1, 0, 0, 0}, 0, accept, 68, 8);
                out.write(pdu(0x02, accept));
                readPdu(in);                                  // C-FIND-RQ command
                readPdu(in);                                  // its identifier
                byte[] comment = errorComment.getBytes(StandardCharsets.US_ASCII);
                java.nio.ByteBuffer command = java.nio.ByteBuffer.allocate(64 + comment.length)
                        .order(java.nio.ByteOrder.LITTLE_ENDIAN);
                command.putShort((short) 0).putShort((short) 0x0100).putInt(2).putShort((short) 0x8020);
                command.putShort((short) 0).putShort((short) 0x0800).putInt(2).putShort((short) 0x0101);
                command.putShort((short) 0).putShort((short) 0x0900).putInt(2).putShort((short) status);
                command.putShort((short) 0).putShort((short) 0x0902).putInt(comment.length).put(comment);
                byte[] set = java.util.Arrays.copyOf(command.array(), command.position());
                java.nio.ByteBuffer pdv = java.nio.ByteBuffer.allocate(6 + set.length);
                pdv.putInt(2 + set.length).put((byte) 1).put((byte) 0x03).put(set);
                out.write(pdu(0x04, pdv.array()));
                readPdu(in);                                  // A-RELEASE-RQ
                out.write(pdu(0x06, new byte[4]));
            }
        });
    }

    private static void readPdu(java.io.DataInputStream in) throws IOException {
        byte[] header = new byte[6];
        in.readFully(header);
        in.readFully(new byte[java.nio.ByteBuffer.wrap(header, 2, 4).getInt()]);
    }

    private static byte[] pdu(int type, byte[] body) {
        return java.nio.ByteBuffer.allocate(6 + body.length).put((byte) type).put((byte) 0).putInt(body.length)
                .put(body).array();
    }

    /** An HTTP server: {@code /ok} 200 "all good", {@code /busy} 503, {@code /hang} never answers. */
    int http() throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        server.setExecutor(executor);
        server.createContext("/ok", exchange -> reply(exchange, 200, "all good"));
        server.createContext("/busy", exchange -> reply(exchange, 503, "busy"));
        server.createContext("/hang", exchange -> {
            try {
                Thread.sleep(60_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        server.start();
        servers.add(() -> server.stop(0));
        return server.getAddress().getPort();
    }

    /** A TCP server that sends {@code greeting} to every client and keeps it open; null sends nothing. */
    int tcp(String greeting) throws IOException {
        return serve(client -> {
            if (greeting != null) {
                client.getOutputStream().write(greeting.getBytes(StandardCharsets.US_ASCII));
                client.getOutputStream().flush();
            }
        });
    }

    /** What a test server does with one client (which stays open, until close(), unless it closes it). */
    private interface Conversation {
        void with(Socket client) throws IOException;
    }

    /** A TCP server on loopback that holds {@code conversation} with each client, every client on its own thread. */
    private int serve(Conversation conversation) throws IOException {
        ServerSocket socket = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
        servers.add(socket);
        executor.submit(() -> {
            while (!socket.isClosed()) {
                Socket client;
                try {
                    client = socket.accept();
                } catch (IOException e) {
                    return;
                }
                servers.add(client);
                executor.submit(() -> {
                    try {
                        conversation.with(client);
                    } catch (IOException | RuntimeException e) {
                        // the check closed the connection
                    }
                });
            }
        });
        return socket.getLocalPort();
    }

    /**
     * An HL7 interface engine's MLLP listener: reads each MLLP frame a client sends and answers it with
     * what {@code answer} makes of the message (null: says nothing and keeps the connection open).
     */
    int mllp(java.util.function.Function<String, byte[]> answer) throws IOException {
        return mllp(answer, false);
    }

    /** Like {@link #mllp(java.util.function.Function)}; {@code thenClose}: closes the connection after answering. */
    int mllp(java.util.function.Function<String, byte[]> answer, boolean thenClose) throws IOException {
        return serve(client -> {
            java.io.InputStream in = client.getInputStream();
            java.io.ByteArrayOutputStream message = new java.io.ByteArrayOutputStream();
            int previous = -1;
            int b;
            while ((b = in.read()) >= 0) {
                if (previous == 0x1C && b == 0x0D) {
                    byte[] text = message.toByteArray();
                    byte[] reply = answer.apply(new String(text, 1, text.length - 2, StandardCharsets.ISO_8859_1));
                    if (reply != null) {
                        client.getOutputStream().write(reply);
                        client.getOutputStream().flush();
                    }
                    if (thenClose) {
                        client.close();
                        return;
                    }
                    message.reset();
                    previous = -1;
                    continue;
                }
                message.write(b);
                previous = b;
            }
        });
    }

    private void start(Path dir, String... command) throws IOException {
        Process process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(dir.resolve(command[0] + ".log").toFile()).start();
        processes.add(process);
        int port = Integer.parseInt(command[command.length - 1]);
        await().atMost(Duration.ofSeconds(10)).ignoreExceptions().until(() -> {
            try (Socket probe = new Socket("127.0.0.1", port)) {
                return true;
            }
        });
    }

    private static void reply(com.sun.net.httpserver.HttpExchange exchange, int status, String text)
            throws IOException {
        byte[] body = text.getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(status, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket probe = new ServerSocket(0)) {
            return probe.getLocalPort();
        }
    }

    @Override
    public void close() throws Exception {
        for (Process process : processes) {
            process.destroy();
            process.waitFor(5, TimeUnit.SECONDS);
        }
        for (AutoCloseable server : servers) {
            server.close();
        }
        executor.shutdownNow();
    }
}
