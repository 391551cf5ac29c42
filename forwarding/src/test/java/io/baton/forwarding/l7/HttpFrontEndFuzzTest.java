package io.baton.forwarding.l7;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestEncoder;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Fuzzes the HTTP front end's reading of client bytes, differentially: the engine's client-side
 * handlers ahead of the exchange (its codec, request deadline, framing gate ({@link RequestGate},
 * {@link HttpFraming}), cookie and forwarding headers) decide which requests pass; what passes
 * is encoded as the proxy sends it to a server, and a strict, independent parser
 * ({@link LoggingBackend}) must read back exactly those requests, with the same method, target and
 * body, and nothing else. A disagreement is request smuggling. Without JAZZER_FUZZ it runs the
 * inputs in its corpus; ./run-tests fuzzes it for a bounded time.
 */
class HttpFrontEndFuzzTest {

    private record Passed(String method, String target, String body) {
    }

    /** A service as the engine runs it, for the handlers that read its config. */
    private static final io.baton.forwarding.ServicePool POOL = pool();

    @FuzzTest(maxDuration = "60s")
    void whatThePassesIsReadBackByAStrictParserAsExactlyTheSameRequests(byte[] input) throws IOException {
        // the engine's own client-side handlers ahead of the exchange, in the engine's order (a
        // handler that trips over a head it has not judged yet is a finding too)
        RequestDeadline deadline = new RequestDeadline(POOL);
        EmbeddedChannel decoder = new EmbeddedChannel(deadline.byteCounter(), L7Engine.clientCodec(), deadline,
                new RequestGate("fuzz"), new PersistenceCookie(POOL), new ForwardedHeaders(POOL));
        EmbeddedChannel encoder = new EmbeddedChannel(new HttpRequestEncoder());
        List<Passed> passed = new ArrayList<>();
        ByteArrayOutputStream sent = new ByteArrayOutputStream();
        int completeLength = 0;
        try {
            decoder.writeInbound(Unpooled.wrappedBuffer(input));
            decoder.checkException();
            HttpRequest request = null;
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            Object message;
            while ((message = decoder.readInbound()) != null) {
                try {
                    if (message instanceof ClientRequest.Refused) {
                        break; // the proxy answers 4xx/5xx and closes: nothing more of this connection is read
                    }
                    if (message instanceof ClientRequest client) {
                        request = client.head();
                        body.reset();
                        encoder.writeOutbound(request);
                        continue;
                    }
                    if (message instanceof HttpContent content) {
                        if (request == null) {
                            break;
                        }
                        if (content.decoderResult().isFailure()) {
                            break; // a malformed body: refused, or the server's connection cut mid-request
                        }
                        ByteBuf bytes = content.content();
                        byte[] copy = new byte[bytes.readableBytes()];
                        bytes.getBytes(bytes.readerIndex(), copy);
                        body.write(copy);
                        encoder.writeOutbound(ReferenceCountUtil.retain(content));
                        if (message instanceof LastHttpContent) {
                            drain(encoder, sent);
                            completeLength = sent.size();
                            passed.add(new Passed(request.method().name(), request.uri(),
                                    body.toString(java.nio.charset.StandardCharsets.ISO_8859_1)));
                            request = null;
                        }
                    }
                } finally {
                    ReferenceCountUtil.release(message);
                }
            }
            // what a server would read: complete requests only (an unfinished one is cut off)
            List<LoggingBackend.Seen> read = LoggingBackend.parseAll(
                    java.util.Arrays.copyOf(sent.toByteArray(), completeLength));
            if (read.size() != passed.size()) {
                throw new AssertionError("passed " + passed + " but a strict parser read " + read);
            }
            for (int i = 0; i < read.size(); i++) {
                LoggingBackend.Seen seen = read.get(i);
                Passed sentRequest = passed.get(i);
                if (!seen.method().equals(sentRequest.method()) || !seen.target().equals(sentRequest.target())
                        || !seen.body().equals(sentRequest.body())) {
                    throw new AssertionError("passed " + sentRequest + " but a strict parser read " + seen);
                }
            }
        } finally {
            decoder.finishAndReleaseAll();
            encoder.finishAndReleaseAll();
        }
    }

    private static io.baton.forwarding.ServicePool pool() {
        try {
            return new io.baton.forwarding.ServicePool(io.baton.config.ConfigParser.parse("""
                    cluster: { name: fuzz, nodes: [{ id: n1, address: 127.0.0.1:7800 }] }
                    vips: [{ name: v, address: 127.0.0.1/32, interface: lo }]
                    services:
                      - { name: web, vip: v, ports: [80], mode: l7-snat, l7: http,
                          persistence: { type: cookie }, servers: [{ name: s1, address: 127.0.0.1:8080 }] }
                    """, io.baton.config.ConfigParser.Format.YAML).services().get(0),
                    new io.baton.forwarding.PersistenceTable(java.time.Clock.systemUTC()));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Moves what the encoder wrote into {@code sent}. */
    private static void drain(EmbeddedChannel encoder, ByteArrayOutputStream sent) {
        ByteBuf out;
        while ((out = encoder.readOutbound()) != null) {
            byte[] copy = new byte[out.readableBytes()];
            out.readBytes(copy);
            out.release();
            sent.write(copy, 0, copy.length);
        }
    }
}
