package io.baton.appliance;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * A real server that misbehaves on purpose, as its own process in a test network:
 * {@code java -cp test-classes io.baton.appliance.HostileServer KIND HOST PORT}. Kinds:
 * {@code smtp-endless} (a "220-" line every 500 ms, never the last line) and
 * {@code dicom-fragments} (accepts the association, then streams command fragments without the
 * last one, as fast as the link goes).
 */
public final class HostileServer {

    private HostileServer() {
    }

    public static void main(String[] args) throws IOException {
        String kind = args[0];
        try (ServerSocket listener = new ServerSocket(Integer.parseInt(args[2]), 64, InetAddress.getByName(args[1]))) {
            System.out.println("hostile server (" + kind + ") on " + args[1] + ":" + args[2]);
            while (true) {
                Socket client = listener.accept();
                Thread thread = new Thread(() -> {
                    try (client) {
                        if (kind.equals("smtp-endless")) {
                            endlessGreeting(client);
                        } else {
                            endlessFragments(client);
                        }
                    } catch (IOException | InterruptedException e) {
                        // the check gave up: what this server is for
                    }
                });
                thread.setDaemon(true);
                thread.start();
            }
        }
    }

    private static void endlessGreeting(Socket client) throws IOException, InterruptedException {
        OutputStream out = client.getOutputStream();
        while (true) {
            out.write("220-still greeting\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            Thread.sleep(500);
        }
    }

    private static void endlessFragments(Socket client) throws IOException {
        readPdu(client);
        OutputStream out = client.getOutputStream();
        byte[] accept = new byte[68 + 8];
        accept[1] = 1; // protocol version
        System.arraycopy(new byte[] {0x21, 0, 0, 4, 1, 0, 0, 0}, 0, accept, 68, 8); // context 1 accepted
        out.write(pdu(0x02, accept));
        out.flush();
        readPdu(client); // the C-ECHO-RQ
        byte[] fragment = new byte[16000];
        ByteBuffer pdv = ByteBuffer.allocate(6 + fragment.length);
        pdv.putInt(2 + fragment.length).put((byte) 1).put((byte) 0x01).put(fragment); // a command fragment, not the last
        byte[] data = pdu(0x04, pdv.array());
        while (true) {
            out.write(data);
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
}
