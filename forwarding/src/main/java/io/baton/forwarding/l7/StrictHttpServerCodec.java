package io.baton.forwarding.l7;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.CombinedChannelDuplexHandler;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;

import java.util.ArrayDeque;
import java.util.List;
import java.util.Queue;

/**
 * The client side's HTTP codec: what Netty's {@code HttpServerCodec} does (the response encoder
 * knows which request each response answers, so that a HEAD response carries no body; at most
 * {@link #MAX_PIPELINE_DEPTH} requests wait for their answers; a request framed by both
 * Content-Length and Transfer-Encoding closes the connection after its answer), with a request
 * decoder that refuses what Netty would quietly normalise and a proxy must not guess at:
 *
 * <ul>
 *   <li>obsolete line folding (a header line that starts with a space or tab; RFC 9112 section
 *       5.2), which Netty joins to the line before: two parsers along the way may disagree on
 *       where a field ends, so the request is refused (400) rather than rewritten;</li>
 *   <li>whitespace between the request line and the first field (section 2.2);</li>
 *   <li>an HTTP version that is not {@code HTTP/} and two digits in exactly that case (section
 *       2.3: case-sensitive), which Netty would read as HTTP/1.1.</li>
 * </ul>
 *
 * Only the head is scanned, once: a body's bytes are framed by the decoder, which ends each
 * message (its {@link LastHttpContent}) before it reads the next head. After a refusal the rest
 * of the connection's bytes are dropped: where the refused message ends is not known.
 */
final class StrictHttpServerCodec extends CombinedChannelDuplexHandler<StrictHttpServerCodec.RequestDecoder,
        StrictHttpServerCodec.ResponseEncoder> {

    /** Requests decoded and not answered yet; the proxy answers one at a time, so this is slack. */
    static final int MAX_PIPELINE_DEPTH = 64;

    /** The methods of the requests decoded and not yet answered, oldest first. */
    private final Queue<HttpMethod> methods = new ArrayDeque<>();
    private boolean closeAfterResponse;

    StrictHttpServerCodec(HttpDecoderConfig config) {
        init(new RequestDecoder(config), new ResponseEncoder());
    }

    /** What is wrong with a request line's version token, or null. */
    static String versionProblem(String version) {
        boolean valid = version.length() == 8 && version.startsWith("HTTP/") && digit(version.charAt(5))
                && version.charAt(6) == '.' && digit(version.charAt(7));
        return valid ? null
                : "the HTTP version \"" + version + "\" is not HTTP/ and two digits (case-sensitive)";
    }

    private static boolean digit(char c) {
        return c >= '0' && c <= '9';
    }

    final class RequestDecoder extends HttpRequestDecoder {
        /** The bytes ahead of the reader index start or continue a message head. */
        private boolean inHead = true;
        /** Head bytes past the reader index already scanned. */
        private int scannedAhead;
        /** Bytes of the current head line so far, CR not counted. */
        private int lineLength;
        /** Still before the end of the request line. */
        private boolean requestLine = true;
        private boolean refused;

        RequestDecoder(HttpDecoderConfig config) {
            super(config);
        }

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf buffer, List<Object> out) throws Exception {
            if (refused) {
                buffer.skipBytes(buffer.readableBytes());
                return;
            }
            if (inHead) {
                String problem = scanHead(buffer);
                if (problem != null) {
                    refused = true;
                    buffer.skipBytes(buffer.readableBytes());
                    DefaultFullHttpRequest invalid = new DefaultFullHttpRequest(HttpVersion.HTTP_1_0, HttpMethod.GET,
                            "/bad-request", Unpooled.EMPTY_BUFFER);
                    invalid.setDecoderResult(DecoderResult.failure(new MalformedHeadException(problem)));
                    out.add(invalid);
                    return;
                }
            }
            int decoded = out.size();
            int reader = buffer.readerIndex();
            super.decode(ctx, buffer, out);
            scannedAhead = Math.max(0, scannedAhead - (buffer.readerIndex() - reader));
            for (int i = decoded; i < out.size(); i++) {
                Object message = out.get(i);
                if (message instanceof HttpRequest request) {
                    if (methods.size() >= MAX_PIPELINE_DEPTH) {
                        refused = true;
                        for (int j = decoded; j < out.size(); j++) {
                            io.netty.util.ReferenceCountUtil.release(out.get(j));
                        }
                        out.subList(decoded, out.size()).clear();
                        buffer.skipBytes(buffer.readableBytes());
                        throw new IllegalStateException("more than " + MAX_PIPELINE_DEPTH + " pipelined requests");
                    }
                    methods.add(request.method());
                }
                if (message instanceof LastHttpContent) {
                    // the decoder ends one message per call: what follows is the next head
                    inHead = true;
                    scannedAhead = 0;
                    lineLength = 0;
                    requestLine = true;
                }
            }
        }

        /** Scans the head bytes not scanned yet; returns what is wrong with them, or null. */
        private String scanHead(ByteBuf buffer) {
            for (int at = buffer.readerIndex() + scannedAhead; at < buffer.writerIndex() && inHead; at++) {
                byte next = buffer.getByte(at);
                scannedAhead++;
                if (next == '\n') {
                    if (lineLength == 0 && !requestLine) {
                        inHead = false; // the empty line: the body (if any) follows, framed by the decoder
                    } else if (lineLength > 0) {
                        requestLine = false;
                    }
                    lineLength = 0;
                } else if (next != '\r') {
                    if (lineLength == 0 && !requestLine && (next == ' ' || next == '\t')) {
                        return "a header line starts with whitespace (obsolete line folding)";
                    }
                    lineLength++;
                }
            }
            return null;
        }

        @Override
        protected void handleTransferEncodingChunkedWithContentLength(HttpMessage message) {
            super.handleTransferEncodingChunkedWithContentLength(message);
            closeAfterResponse = true;
        }

        @Override
        protected HttpMessage createMessage(String[] initialLine) throws Exception {
            String problem = versionProblem(initialLine[2]);
            if (problem != null) {
                throw new MalformedHeadException(problem);
            }
            return super.createMessage(initialLine);
        }
    }

    final class ResponseEncoder extends HttpResponseEncoder {
        private HttpMethod method;

        @Override
        public void write(ChannelHandlerContext ctx, Object message, io.netty.channel.ChannelPromise promise)
                throws Exception {
            if (closeAfterResponse && message instanceof LastHttpContent) {
                closeAfterResponse = false;
                promise = promise.unvoid();
                promise.addListener(io.netty.channel.ChannelFutureListener.CLOSE);
            }
            super.write(ctx, message, promise);
        }

        @Override
        protected void sanitizeHeadersBeforeEncode(HttpResponse response, boolean isAlwaysEmpty) {
            if (!isAlwaysEmpty && HttpMethod.CONNECT.equals(method)
                    && response.status().codeClass() == HttpStatusClass.SUCCESS) {
                response.headers().remove(HttpHeaderNames.TRANSFER_ENCODING);
                return;
            }
            super.sanitizeHeadersBeforeEncode(response, isAlwaysEmpty);
        }

        @Override
        protected boolean isContentAlwaysEmpty(HttpResponse response) {
            if (response.status().codeClass() == HttpStatusClass.INFORMATIONAL) {
                return super.isContentAlwaysEmpty(response); // an interim answer: the request waits on
            }
            method = methods.poll();
            return HttpMethod.HEAD.equals(method) || super.isContentAlwaysEmpty(response);
        }
    }

    /** A head this proxy refuses to read on: answered 400. */
    static final class MalformedHeadException extends IllegalArgumentException {
        MalformedHeadException(String message) {
            super(message);
        }
    }
}
