package io.baton.forwarding.l7;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code proxy-protocol: v2}, read by a real server that parses it: nginx with {@code listen ...
 * proxy_protocol}, which answers with the client and VIP addresses the header gave it. nginx must be
 * installed (run-tests installs it).
 */
@ExtendWith(NettyLeakCheck.class)
class ProxyProtocolTest {

    private static final Pattern SEEN = Pattern.compile("client=([0-9.]+):(\\d+) vip=([0-9.]+):(\\d+)");

    @TempDir
    Path dir;

    private Process nginx;
    private int nginxPort;
    private L7Engine engine;
    private int port;

    @BeforeEach
    void startNginx() throws Exception {
        nginxPort = TestServers.freePort();
        nginx = TestServers.nginx(dir, nginxPort, """
                listen 127.0.0.1:%d proxy_protocol;
                location / {
                    return 200 "client=$proxy_protocol_addr:$proxy_protocol_port vip=$proxy_protocol_server_addr:$proxy_protocol_server_port\\n";
                }
                """.formatted(nginxPort));
        port = TestServers.freePort();
    }

    @AfterEach
    void stop() throws Exception {
        if (engine != null) {
            engine.close();
        }
        nginx.destroy();
        nginx.waitFor(10, TimeUnit.SECONDS);
    }

    @Test
    void anHttpServiceNamesEachClientToTheServerAndNeverLendsOneClientsConnectionToAnother() throws Exception {
        engine = TestServers.httpEngine(port, "proxy-protocol: v2", "[{ name: rs, address: 127.0.0.1:" + nginxPort + " }]");

        // clients one after another, on the engine's two event loops in turn: a server connection kept
        // from an earlier client (idle connections are kept per loop) would name that client
        for (int last = 7; last <= 12; last++) {
            String address = "127.0.0." + last;
            try (Socket client = client(address)) {
                // two requests on one keep-alive connection, then the client leaves: the server connection
                // stays open (and, were it shared, idle for the next client)
                String expected = address + ":" + client.getLocalPort() + " 127.0.0.1:" + port;
                for (int request = 0; request < 2; request++) {
                    client.getOutputStream().write("GET / HTTP/1.1\r\nHost: vip\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    assertThat(seen(keepAliveAnswer(client))).as("what the server was told of " + address)
                            .containsExactly(expected);
                }
            }
        }
    }

    @Test
    void aTcpServiceStartsEachServerConnectionWithTheHeader() throws Exception {
        engine = TestServers.engine(port, "tcp", "", "proxy-protocol: v2",
                "[{ name: rs, address: 127.0.0.1:" + nginxPort + " }]");

        try (Socket client = client("127.0.0.9")) {
            assertThat(seen(exchange(client, "GET / HTTP/1.1\r\nHost: vip\r\nConnection: close\r\n\r\n")))
                    .containsExactly("127.0.0.9:" + client.getLocalPort() + " 127.0.0.1:" + port);
        }
    }

    @Test
    void withoutTheKeyServersGetNoHeader() throws Exception {
        engine = TestServers.httpEngine(port, "", "[{ name: rs, address: 127.0.0.1:" + nginxPort + " }]");

        try (Socket client = client("127.0.0.7")) {
            String answer = exchange(client, "GET / HTTP/1.1\r\nHost: vip\r\nConnection: close\r\n\r\n");
            // nginx refuses a connection on a proxy_protocol listener that does not start with a header
            assertThat(seen(answer)).isEmpty();
        }
        assertThat(Files.readString(dir.resolve("error.log"))).contains("broken header");
    }

    private Socket client(String source) throws IOException {
        Socket socket = new Socket();
        socket.bind(new InetSocketAddress(InetAddress.getByName(source), 0));
        socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        socket.setSoTimeout(15_000);
        return socket;
    }

    private static String exchange(Socket socket, String requests) throws IOException {
        socket.getOutputStream().write(requests.getBytes(StandardCharsets.ISO_8859_1));
        return new String(socket.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
    }

    /** One answer on a keep-alive connection: its head and its Content-Length of body. */
    private static String keepAliveAnswer(Socket socket) throws IOException {
        java.io.InputStream in = socket.getInputStream();
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("the connection closed after " + head);
            }
            head.append((char) b);
        }
        Matcher length = Pattern.compile("(?i)content-length: *(\\d+)").matcher(head);
        assertThat(length.find()).as(head.toString()).isTrue();
        return head + new String(in.readNBytes(Integer.parseInt(length.group(1))), StandardCharsets.ISO_8859_1);
    }

    /** "client-address:port vip-address:port" for each answer nginx gave. */
    private static List<String> seen(String answers) {
        Matcher matcher = SEEN.matcher(answers);
        List<String> seen = new java.util.ArrayList<>();
        while (matcher.find()) {
            seen.add(matcher.group(1) + ":" + matcher.group(2) + " " + matcher.group(3) + ":" + matcher.group(4));
        }
        return seen;
    }
}
