package io.baton.forwarding.l7;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The framing rules of RFC 9112 that a proxy must hold both sides to, as one pure judgement of a
 * decoded message head: a message whose length is not known for certain, or that could be read
 * two ways by two parsers, is refused, never passed on. A request is answered with the status
 * returned (its connection then closed); a response ends its exchange with 502.
 *
 * <ul>
 *   <li>HTTP/1.0 and HTTP/1.1 only (505 otherwise).</li>
 *   <li>{@code Transfer-Encoding}: exactly one field, exactly {@code chunked} (501 for any other
 *       coding or list, RFC 9112 6.1); never in HTTP/1.0; never beside {@code Content-Length}.</li>
 *   <li>{@code Content-Length}: one field of digits only (the decoder refuses duplicates).</li>
 *   <li>{@code Connection} may not name a header that frames or routes the message
 *       ({@code Content-Length}, {@code Transfer-Encoding}, {@code Host}): a proxy that strips the
 *       headers {@code Connection} names would otherwise remove the framing after it was read.</li>
 *   <li>A request has exactly one {@code Host} (HTTP/1.1), no field holds a control character, and
 *       its target is printable ASCII (RFC 3986).</li>
 * </ul>
 */
final class HttpFraming {

    /** Headers that {@code Connection} may never name. */
    private static final List<String> FRAMING = List.of("content-length", "transfer-encoding", "host", "connection");

    /** Why a message head is refused, and the status a request gets for it. */
    record Refusal(HttpResponseStatus status, String reason) {
    }

    /** Hop-by-hop headers (RFC 9110 7.6.1), removed on both sides with those that Connection names. */
    private static final List<String> HOP_BY_HOP = List.of("connection", "keep-alive", "proxy-connection", "te",
            "trailer", "upgrade");

    private HttpFraming() {
    }

    /**
     * Readies an accepted head for the other side: the framing written canonically (exactly
     * {@code chunked}, a plain decimal length: a peer that compares case-sensitively or dislikes
     * leading zeros reads it as this proxy did), the hop-by-hop headers and those that
     * {@code Connection} names removed. Call only on a head that {@link #request} or
     * {@link #response} accepted: Connection then names no framing header.
     */
    static void prepareForwarding(HttpHeaders headers) {
        if (headers.contains(HttpHeaderNames.TRANSFER_ENCODING)) {
            headers.set(HttpHeaderNames.TRANSFER_ENCODING, "chunked");
        }
        String length = headers.get(HttpHeaderNames.CONTENT_LENGTH);
        if (length != null) {
            headers.set(HttpHeaderNames.CONTENT_LENGTH, Long.toString(Long.parseLong(length.trim())));
        }
        if (headers.contains(HttpHeaderNames.CONNECTION)) {
            for (String connection : headers.getAll(HttpHeaderNames.CONNECTION)) {
                for (String token : connection.split(",")) {
                    if (!token.isBlank()) {
                        headers.remove(token.trim());
                    }
                }
            }
        }
        for (int i = 0; i < HOP_BY_HOP.size(); i++) {
            headers.remove(HOP_BY_HOP.get(i));
        }
    }

    /** Whether {@code text} is 1 to {@code most} ASCII digits (what a regex would say, without one per message). */
    static boolean decimal(String text, int most) {
        int length = text.length();
        if (length == 0 || length > most) {
            return false;
        }
        for (int i = 0; i < length; i++) {
            char c = text.charAt(i);
            if (c < '0' || c > '9') {
                return false;
            }
        }
        return true;
    }

    /** Why this request head must not be passed on; null when it may. */
    static Refusal request(HttpRequest request) {
        Refusal common = common(request, "request");
        if (common != null) {
            return common;
        }
        HttpHeaders headers = request.headers();
        List<String> hosts = headers.getAll(HttpHeaderNames.HOST);
        if (request.protocolVersion().equals(HttpVersion.HTTP_1_1) && hosts.size() != 1) {
            return new Refusal(HttpResponseStatus.BAD_REQUEST, hosts.isEmpty() ? "an HTTP/1.1 request without Host"
                    : "a request with " + hosts.size() + " Host fields");
        }
        if (hosts.size() > 1) {
            return new Refusal(HttpResponseStatus.BAD_REQUEST, "a request with " + hosts.size() + " Host fields");
        }
        String uri = request.uri();
        for (int i = 0; i < uri.length(); i++) {
            char c = uri.charAt(i);
            if (c <= ' ' || c >= 0x7F) {
                // (a byte above 0x7E would not even reach the server as it came: the encoder writes UTF-8)
                return new Refusal(HttpResponseStatus.BAD_REQUEST, "a control character, space or non-ASCII byte"
                        + " in the request target");
            }
        }
        return null;
    }

    /** Why this response head must not be passed on; null when it may. */
    static String response(HttpMessage response) {
        Refusal common = common(response, "response");
        return common == null ? null : common.reason();
    }

    private static Refusal common(HttpMessage message, String what) {
        HttpVersion version = message.protocolVersion();
        if (version.majorVersion() != 1 || version.minorVersion() > 1 || !version.protocolName().equals("HTTP")) {
            return new Refusal(HttpResponseStatus.HTTP_VERSION_NOT_SUPPORTED, "HTTP version " + version.text()
                    + " (this proxy speaks HTTP/1.0 and HTTP/1.1)");
        }
        HttpHeaders headers = message.headers();
        for (Map.Entry<String, String> field : headers) {
            String value = field.getValue();
            for (int i = 0; i < value.length(); i++) {
                char c = value.charAt(i);
                if (c < ' ' && c != '\t' || c == 0x7F) {
                    return new Refusal(HttpResponseStatus.BAD_REQUEST, "a control character (0x"
                            + Integer.toHexString(c) + ") in the " + what + " field " + field.getKey());
                }
            }
        }
        List<String> codings = headers.contains(HttpHeaderNames.TRANSFER_ENCODING)
                ? headers.getAll(HttpHeaderNames.TRANSFER_ENCODING) : List.of();
        List<String> lengths = headers.contains(HttpHeaderNames.CONTENT_LENGTH)
                ? headers.getAll(HttpHeaderNames.CONTENT_LENGTH) : List.of();
        if (!codings.isEmpty()) {
            if (version.equals(HttpVersion.HTTP_1_0)) {
                return new Refusal(HttpResponseStatus.BAD_REQUEST, "Transfer-Encoding in an HTTP/1.0 " + what);
            }
            if (codings.size() != 1 || !codings.get(0).trim().equalsIgnoreCase("chunked")) {
                return new Refusal(HttpResponseStatus.NOT_IMPLEMENTED, "Transfer-Encoding \""
                        + String.join(", ", codings) + "\" (only chunked is supported)");
            }
            if (!lengths.isEmpty()) {
                return new Refusal(HttpResponseStatus.BAD_REQUEST, "both Transfer-Encoding and Content-Length in a "
                        + what);
            }
        }
        if (lengths.size() > 1) {
            return new Refusal(HttpResponseStatus.BAD_REQUEST, lengths.size() + " Content-Length fields in a " + what);
        }
        if (lengths.size() == 1 && !decimal(lengths.get(0).trim(), 18)) {
            return new Refusal(HttpResponseStatus.BAD_REQUEST, "Content-Length \"" + lengths.get(0) + "\" in a " + what);
        }
        for (String connection : headers.contains(HttpHeaderNames.CONNECTION)
                ? headers.getAll(HttpHeaderNames.CONNECTION) : List.<String>of()) {
            for (String token : connection.split(",")) {
                String name = token.trim().toLowerCase(Locale.ROOT);
                if (FRAMING.contains(name)) {
                    return new Refusal(HttpResponseStatus.BAD_REQUEST, "Connection names " + token.trim()
                            + ", which frames the " + what);
                }
            }
        }
        return null;
    }
}
