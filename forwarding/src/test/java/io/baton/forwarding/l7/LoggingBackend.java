package io.baton.forwarding.l7;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real server that parses what reaches it with a strict HTTP/1.1 parser of its own (the second
 * parser in a smuggling attack) and records every request it reads: what a backend behind the
 * proxy would believe it was sent. Each request is answered {@code 200 ok}; anything it cannot
 * parse is recorded as such and closes the connection.
 */
final class LoggingBackend implements AutoCloseable {

    /** One request as this backend read it. */
    record Seen(String method, String target, String head, String body) {
    }

    private final ServerSocket socket;
    private final ExecutorService acceptor = Executors.newSingleThreadExecutor();
    private final ExecutorService executor;
    private final List<Seen> seen = new CopyOnWriteArrayList<>();
    private final List<String> unparsable = new CopyOnWriteArrayList<>();
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicInteger mostOpen = new AtomicInteger();

    LoggingBackend() throws IOException {
        this(Executors.newCachedThreadPool());
    }

    /**
     * A backend with {@code workers} threads, each serving one connection at a time (a threaded
     * server with a fixed pool, as gunicorn's): a connection beyond them waits for a worker.
     */
    LoggingBackend(int workers) throws IOException {
        this(Executors.newFixedThreadPool(workers));
    }

    private LoggingBackend(ExecutorService workers) throws IOException {
        executor = workers;
        socket = new ServerSocket(0, 512, InetAddress.getLoopbackAddress());
        acceptor.submit(() -> {
            while (!socket.isClosed()) {
                Socket connection;
                try {
                    connection = socket.accept();
                } catch (IOException e) {
                    return;
                }
                executor.submit(() -> serve(connection));
            }
        });
    }

    int port() {
        return socket.getLocalPort();
    }

    List<Seen> seen() {
        return List.copyOf(seen);
    }

    List<String> unparsable() {
        return List.copyOf(unparsable);
    }

    /** The most connections this backend had open at once. */
    int mostOpen() {
        return mostOpen.get();
    }

    void clear() {
        seen.clear();
        unparsable.clear();
    }

    private void serve(Socket connection) {
        mostOpen.accumulateAndGet(open.incrementAndGet(), Math::max);
        try (connection) {
            InputStream in = connection.getInputStream();
            OutputStream out = connection.getOutputStream();
            while (true) {
                String head = head(in);
                if (head == null) {
                    return;
                }
                Seen request = parse(head, in);
                seen.add(request);
                out.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".getBytes(StandardCharsets.US_ASCII));
                out.flush();
            }
        } catch (IOException | RuntimeException e) {
            unparsable.add(String.valueOf(e.getMessage()));
        } finally {
            open.decrementAndGet();
        }
    }

    /** Every request in {@code bytes}, as this backend's parser reads them; an IOException when it cannot. */
    static List<Seen> parseAll(byte[] bytes) throws IOException {
        InputStream in = new java.io.ByteArrayInputStream(bytes);
        List<Seen> all = new java.util.ArrayList<>();
        String head;
        while ((head = head(in)) != null) {
            all.add(parse(head, in));
        }
        return all;
    }

    /** The head up to CRLF CRLF; null at a clean end of the connection. Bare LF is not a line end here. */
    private static String head(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0;
        while (true) {
            int b = in.read();
            if (b < 0) {
                if (head.size() == 0) {
                    return null;
                }
                throw new IOException("connection closed inside a head: " + head);
            }
            head.write(b);
            matched = b == (matched % 2 == 0 ? '\r' : '\n') ? matched + 1 : b == '\r' ? 1 : 0;
            if (matched == 4) {
                return head.toString(StandardCharsets.ISO_8859_1);
            }
            if (head.size() > 65536) {
                throw new IOException("head too long");
            }
        }
    }

    private static Seen parse(String head, InputStream in) throws IOException {
        String[] lines = head.substring(0, head.length() - 4).split("\r\n", -1);
        String[] start = lines[0].split(" ", -1);
        if (start.length != 3 || !start[2].equals("HTTP/1.1")) {
            throw new IOException("bad request line: " + lines[0]);
        }
        String length = null;
        String coding = null;
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon <= 0 || lines[i].startsWith(" ") || lines[i].startsWith("\t")) {
                throw new IOException("bad field line: " + lines[i]);
            }
            String name = lines[i].substring(0, colon).toLowerCase(Locale.ROOT);
            String value = lines[i].substring(colon + 1).trim();
            if (name.equals("content-length")) {
                if (length != null) {
                    throw new IOException("two Content-Length fields");
                }
                length = value;
            } else if (name.equals("transfer-encoding")) {
                if (coding != null) {
                    throw new IOException("two Transfer-Encoding fields");
                }
                coding = value;
            }
        }
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        if (coding != null) {
            if (length != null || !coding.equals("chunked")) {
                throw new IOException("framing: TE " + coding + " CL " + length);
            }
            while (true) {
                String size = line(in);
                int semicolon = size.indexOf(';');
                String digits = semicolon < 0 ? size : size.substring(0, semicolon);
                if (!digits.matches("[0-9a-fA-F]{1,8}")) {
                    throw new IOException("bad chunk size: " + size);
                }
                int n = Integer.parseInt(digits, 16);
                if (n == 0) {
                    while (!line(in).isEmpty()) {
                        // trailers
                    }
                    break;
                }
                body.write(in.readNBytes(n));
                if (!line(in).isEmpty()) {
                    throw new IOException("no CRLF after a chunk");
                }
            }
        } else if (length != null) {
            if (!length.matches("\\d{1,9}")) {
                throw new IOException("bad Content-Length: " + length);
            }
            int n = Integer.parseInt(length);
            byte[] bytes = in.readNBytes(n);
            if (bytes.length != n) {
                throw new IOException("body cut short");
            }
            body.write(bytes);
        }
        return new Seen(start[0], start[1], head, body.toString(StandardCharsets.ISO_8859_1));
    }

    private static String line(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int previous = -1;
        while (true) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("connection closed inside a chunked body");
            }
            if (previous == '\r' && b == '\n') {
                byte[] bytes = line.toByteArray();
                return new String(bytes, 0, bytes.length - 1, StandardCharsets.ISO_8859_1);
            }
            line.write(b);
            previous = b;
            if (line.size() > 4096) {
                throw new IOException("chunk line too long");
            }
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
        acceptor.shutdownNow();
        executor.shutdownNow();
    }
}
