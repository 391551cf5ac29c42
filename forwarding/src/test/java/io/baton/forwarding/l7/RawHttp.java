package io.baton.forwarding.l7;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** A plain HTTP/1.1 client on a socket, so tests choose the client address and see every byte. */
final class RawHttp {

    /** A response: status, the head as text, and the body. */
    record Response(int status, String head, String body) {

        String header(String name) {
            for (String line : head.split("\r\n")) {
                int colon = line.indexOf(':');
                if (colon > 0 && line.substring(0, colon).equalsIgnoreCase(name)) {
                    return line.substring(colon + 1).trim();
                }
            }
            return null;
        }
    }

    private RawHttp() {
    }

    static Response get(int port, String path, String sourceIp, String extraHeaders) throws IOException {
        return send(port, sourceIp, "GET " + path + " HTTP/1.1\r\nHost: vip\r\n" + extraHeaders
                + "Connection: close\r\n\r\n");
    }

    static Response get(int port, String path) throws IOException {
        return get(port, path, "127.0.0.1", "");
    }

    /** Sends raw bytes and reads until the server closes. */
    static Response send(int port, String sourceIp, String request) throws IOException {
        try (Socket socket = new Socket()) {
            socket.bind(new InetSocketAddress(InetAddress.getByName(sourceIp), 0));
            socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            socket.setSoTimeout(15_000);
            socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            return read(socket.getInputStream());
        }
    }

    static Response read(InputStream in) throws IOException {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        in.transferTo(all);
        String text = all.toString(StandardCharsets.ISO_8859_1);
        int end = text.indexOf("\r\n\r\n");
        if (end < 0) {
            return new Response(0, text, "");
        }
        String head = text.substring(0, end);
        int status = Integer.parseInt(head.split(" ")[1]);
        return new Response(status, head, text.substring(end + 4));
    }
}
