package io.baton.forwarding.l7;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Malformed and smuggling requests through the {@code http} proxy to a backend that parses
 * strictly and records what it reads ({@link LoggingBackend}). Each attack carries a second request
 * ({@code GET /smuggled}) that one reading of its framing would find. Every attack gets a 4xx or
 * 5xx, the backend never reads a request the client did not send as one (never {@code /smuggled},
 * never an unparsable stream), and a well-behaved request after each one is answered.
 */
@org.junit.jupiter.api.extension.ExtendWith(NettyLeakCheck.class)
class HttpSmugglingTest {

    private static final String SMUGGLED = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";

    private static L7Engine engine;
    private static LoggingBackend backend;
    private static int port;

    /** What the proxy does with an attack. */
    enum Outcome {
        /** Answered 4xx or 5xx; nothing reaches the backend. */
        REFUSED,
        /** Valid so far but unfinished: the client half-closes; no 2xx, nothing reaches the backend. */
        INCOMPLETE
    }

    record Attack(String name, String request, Outcome outcome) {
        Attack(String name, String request) {
            this(name, request, Outcome.REFUSED);
        }

        boolean incomplete() {
            return outcome == Outcome.INCOMPLETE;
        }

        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Attack> attacks() {
        List<Attack> attacks = new ArrayList<>();
        String cl = "Content-Length: " + SMUGGLED.length() + "\r\n";
        // hop-by-hop headers that would remove the framing after it was read
        attacks.add(new Attack("Connection names Content-Length",
                "POST / HTTP/1.1\r\nHost: a\r\n" + cl + "Connection: Content-Length\r\n\r\n" + SMUGGLED));
        attacks.add(new Attack("Connection names Transfer-Encoding",
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive, Transfer-Encoding\r\n\r\n"
                        + chunked(SMUGGLED)));
        attacks.add(new Attack("Connection names Host",
                "GET / HTTP/1.1\r\nHost: a\r\nConnection: host\r\n\r\n"));
        // both lengths, duplicate and malformed lengths
        attacks.add(new Attack("CL.TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                + SMUGGLED));
        attacks.add(new Attack("TE.CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
                + Integer.toHexString(SMUGGLED.length() + 2) + "\r\n\r\n" + SMUGGLED + "\r\n0\r\n\r\n"));
        attacks.add(new Attack("two Content-Lengths that differ",
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n" + cl + "\r\n" + SMUGGLED));
        attacks.add(new Attack("a Content-Length list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0, "
                + SMUGGLED.length() + "\r\n\r\n" + SMUGGLED));
        for (String length : List.of("-1", "+" + SMUGGLED.length(), "0x22", SMUGGLED.length() + " 0", "1e2", "")) {
            attacks.add(new Attack("Content-Length \"" + length + "\"",
                    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: " + length + "\r\n\r\n" + SMUGGLED));
        }
        // transfer codings other than exactly chunked
        for (String coding : List.of(",chunked", "chunked, identity", "identity, chunked", "xchunked", "chunked\u000b",
                "\"chunked\"", "gzip, chunked", "chunk", "chunked;q=1")) {
            attacks.add(new Attack("Transfer-Encoding \"" + coding + "\"",
                    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: " + coding + "\r\n\r\n" + chunked(SMUGGLED)));
        }
        attacks.add(new Attack("two Transfer-Encoding fields", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                + "Transfer-Encoding: identity\r\n\r\n" + chunked(SMUGGLED)));
        attacks.add(new Attack("Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                + chunked(SMUGGLED)));
        attacks.add(new Attack("a space before the colon of Transfer-Encoding", "POST / HTTP/1.1\r\nHost: a\r\n"
                + "Transfer-Encoding : chunked\r\n" + cl + "\r\n" + SMUGGLED));
        attacks.add(new Attack("a space before the colon of Content-Length", "POST / HTTP/1.1\r\nHost: a\r\n"
                + "Content-Length : " + SMUGGLED.length() + "\r\n\r\n" + SMUGGLED));
        // chunk sizes and extensions
        attacks.add(new Attack("a chunk longer than what follows (1abc)", "POST / HTTP/1.1\r\nHost: a\r\n"
                + "Transfer-Encoding: chunked\r\n\r\n1abc\r\n" + SMUGGLED + "\r\n0\r\n\r\n", Outcome.INCOMPLETE));
        attacks.add(new Attack("a Content-Length longer than what follows", "POST / HTTP/1.1\r\nHost: a\r\n"
                + "Content-Length: 1000\r\n\r\n" + SMUGGLED, Outcome.INCOMPLETE));
        for (String size : List.of("zz", "0_2e", "-0x0", "0x22", " 22", "22 ", "", "ffffffffffffffffffff",
                "22;\u0000", "+22")) {
            attacks.add(new Attack("chunk size \"" + size + "\"", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + size + "\r\n" + SMUGGLED + "\r\n0\r\n\r\n"));
        }
        attacks.add(new Attack("a chunk without its CRLF", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "3\r\nabcGET /smuggled HTTP/1.1\r\n0\r\n\r\n"));
        // line syntax
        attacks.add(new Attack("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n"));
        attacks.add(new Attack("obs-fold with a tab", "GET / HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n\ttwo\r\n\r\n"));
        attacks.add(new Attack("obs-fold of Host", "GET / HTTP/1.1\r\nHost:\r\n a\r\n\r\n"));
        attacks.add(new Attack("whitespace before the first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n"));
        attacks.add(new Attack("a folded line of spaces only", "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n   \r\n\r\n"));
        attacks.add(new Attack("obs-fold of Transfer-Encoding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n"
                + cl + "\r\n" + SMUGGLED));
        attacks.add(new Attack("bare LF line ends", "GET / HTTP/1.1\nHost: a\n\n"));
        attacks.add(new Attack("bare CR in a field", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rTransfer-Encoding: chunked\r\n\r\n"));
        attacks.add(new Attack("NUL in a field value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\u0000b\r\n\r\n"));
        attacks.add(new Attack("a control character in a field value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\u0001b\r\n\r\n"));
        attacks.add(new Attack("a control character in a field name", "GET / HTTP/1.1\r\nHost: a\r\nX\u0001: b\r\n\r\n"));
        attacks.add(new Attack("a space in the request target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"));
        attacks.add(new Attack("no Host in HTTP/1.1", "GET / HTTP/1.1\r\n\r\n"));
        attacks.add(new Attack("two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"));
        // versions and sizes
        for (String version : List.of("HTTP/1.2", "HTTP/2.0", "HTTP/0.9", "HTTP/3.0", "HTTPS/1.1")) {
            attacks.add(new Attack("version " + version, "GET / " + version + "\r\nHost: a\r\n\r\n"));
        }
        for (String version : List.of("http/1.1", "Http/1.1", "HTTP/1.10", "HTTP/01.1", "HTTP/1.1 ")) {
            attacks.add(new Attack("version \"" + version + "\"", "GET / " + version + "\r\nHost: a\r\n\r\n"));
        }
        attacks.add(new Attack("an oversize URI", "GET /" + "a".repeat(20_000) + " HTTP/1.1\r\nHost: a\r\n\r\n"));
        attacks.add(new Attack("an oversize head", "GET / HTTP/1.1\r\nHost: a\r\n" + "X-Big: " + "b".repeat(70_000)
                + "\r\n\r\n"));
        return attacks.stream();
    }

    private static String chunked(String body) {
        return Integer.toHexString(body.length()) + "\r\n" + body + "\r\n0\r\n\r\n";
    }

    @BeforeAll
    static void start() throws Exception {
        backend = new LoggingBackend();
        port = TestServers.freePort();
        engine = TestServers.httpEngine(port, "", "[{ name: logger, address: 127.0.0.1:" + backend.port() + " }]");
    }

    @AfterAll
    static void stop() throws Exception {
        engine.close();
        backend.close();
    }

    @BeforeEach
    void clear() {
        backend.clear();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("attacks")
    void anAttackIsRefusedAndTheBackendNeverReadsARequestTheClientDidNotSendAsOne(Attack attack) throws Exception {
        String answer = send(attack.request(), attack.incomplete());

        if (attack.incomplete()) {
            assertThat(answer).as("the proxy's answer to an unfinished request").doesNotStartWith("HTTP/1.1 2");
        } else {
            assertThat(answer).as("the proxy's answer").matches("(?s)HTTP/1\\.1 [45]\\d\\d .*");
        }
        assertThat(backend.seen()).as("requests the backend read").noneMatch(seen -> seen.target().contains("smuggled"));
        assertThat(backend.seen()).as("requests the backend read").isEmpty();
        assertThat(backend.unparsable()).as("streams the backend could not parse").isEmpty();

        assertThat(send("GET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false))
                .as("a well-behaved request after it").startsWith("HTTP/1.1 200");
        assertThat(backend.seen()).extracting(LoggingBackend.Seen::target).containsExactly("/after");
    }

    /**
     * Only heads are held to the head's rules: a body whose lines start with spaces is no
     * folding, and on one connection a folded head after a valid request is still found.
     */
    @Test
    void bodiesAreNotHeadsAndAFoldedHeadAfterAValidRequestOnTheSameConnectionIsStillRefused() throws Exception {
        String body = "x\r\n y\r\n\tz\r\n";
        String fixed = "POST /fixed HTTP/1.1\r\nHost: a\r\nContent-Length: " + body.length() + "\r\n\r\n" + body;
        String chunkedRequest = "POST /chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(body);
        String bodiless = "GET /bodiless HTTP/1.1\r\nHost: a\r\n\r\n";
        String folded = "GET /smuggled HTTP/1.1\r\nHost: a\r\nX: one\r\n two\r\n\r\n";

        String answers = send(fixed + chunkedRequest + bodiless + folded, false);

        assertThat(answers.split("HTTP/1\\.1 200", -1)).as("answers: %s", answers).hasSize(4);
        assertThat(answers).contains("HTTP/1.1 400");
        assertThat(backend.seen()).extracting(LoggingBackend.Seen::target)
                .containsExactly("/fixed", "/chunked", "/bodiless");
        assertThat(backend.unparsable()).isEmpty();
    }

    /** Sends raw bytes on a new connection, and returns what comes back until the proxy closes (or 5 s). */
    private static String send(String request, boolean halfClose) throws IOException {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 2000);
            socket.setSoTimeout(5000);
            socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            if (halfClose) {
                socket.shutdownOutput();
            }
            java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
            try {
                socket.getInputStream().transferTo(all);
            } catch (java.net.SocketTimeoutException | java.net.SocketException e) {
                // what came back so far is the answer
            }
            return all.toString(StandardCharsets.ISO_8859_1);
        }
    }
}
