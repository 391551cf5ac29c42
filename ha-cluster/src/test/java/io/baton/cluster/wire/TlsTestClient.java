package io.baton.cluster.wire;

import io.baton.config.ClusterConfig;
import io.baton.config.HostPort;

import javax.net.ssl.SSLException;
import javax.net.ssl.SSLSocket;
import java.io.ByteArrayOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/** A cluster TLS client for tests: plays any node with any keys from any local address, and records what it sends. */
public final class TlsTestClient {

    private TlsTestClient() {
    }

    /**
     * Connects from {@code from} to {@code target} as node {@code as} holding {@code keys}, sends
     * {@code payload} inside TLS and reports whether the node kept the connection (true) or
     * refused it with a TLS alert (false). Every byte sent on the wire goes to {@code captured}.
     */
    public static boolean session(ClusterConfig cluster, String as, ClusterKeys keys, InetAddress from,
                                  HostPort target, byte[] payload, ByteArrayOutputStream captured) throws IOException {
        ClusterTls tls = new ClusterTls(new ClusterPeers(cluster, as), () -> keys);
        try (Socket raw = new RecordingSocket(captured)) {
            raw.bind(new InetSocketAddress(from, 0));
            raw.connect(new InetSocketAddress(target.host(), target.port()), 2000);
            SSLSocket ssl = tls.layer(raw, true);
            ssl.setSoTimeout(1500);
            try {
                ssl.startHandshake();
                ssl.getOutputStream().write(payload);
                ssl.getOutputStream().flush();
                // TLS 1.3: the server judges the client's certificate after the client's handshake is done,
                // so a refusal arrives as an alert on the first read
                ssl.getInputStream().read();
                return true; // the node said something: it took the connection
            } catch (SocketTimeoutException e) {
                return true; // the node took the connection and waits for more
            } catch (SSLException e) {
                return false;
            } catch (java.net.SocketException closedOnUs) {
                return false; // the node closed the connection (after its alert) before our write went out
            }
        }
    }

    /** Local TCP ports in LISTEN that sockets of this process hold (from /proc). */
    public static Set<Integer> listeningPortsOfThisProcess() throws IOException {
        Set<String> inodes = new HashSet<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            fds.forEach(fd -> {
                try {
                    String link = Files.readSymbolicLink(fd).toString();
                    if (link.startsWith("socket:[")) {
                        inodes.add(link.substring(8, link.length() - 1));
                    }
                } catch (IOException ignored) {
                    // closed meanwhile
                }
            });
        }
        Set<Integer> ports = new HashSet<>();
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            List<String> lines = Files.readAllLines(Path.of(table));
            for (String line : lines.subList(1, lines.size())) {
                String[] fields = line.trim().split("\\s+");
                if (fields[3].equals("0A") && inodes.contains(fields[9])) {
                    ports.add(Integer.parseInt(fields[1].substring(fields[1].indexOf(':') + 1), 16));
                }
            }
        }
        return ports;
    }

    private static final class RecordingSocket extends Socket {
        private final ByteArrayOutputStream captured;

        RecordingSocket(ByteArrayOutputStream captured) {
            this.captured = captured;
        }

        @Override
        public OutputStream getOutputStream() throws IOException {
            return new FilterOutputStream(super.getOutputStream()) {
                @Override
                public void write(byte[] bytes, int offset, int length) throws IOException {
                    captured.write(bytes, offset, length);
                    out.write(bytes, offset, length);
                }

                @Override
                public void write(int b) throws IOException {
                    captured.write(b);
                    out.write(b);
                }
            };
        }
    }
}
