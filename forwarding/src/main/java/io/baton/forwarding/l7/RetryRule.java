package io.baton.forwarding.l7;

import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;

import java.util.Set;

/**
 * Which requests may be sent again to the next server when theirs closes before answering: only
 * those that cannot do anything twice, a safe method (RFC 9110 section 9.2.1) without a body.
 * PUT and DELETE are idempotent, but a second server may have no idea the first one already
 * acted; anything else gets 502 and reached one server only.
 */
final class RetryRule {

    private static final Set<HttpMethod> SAFE = Set.of(HttpMethod.GET, HttpMethod.HEAD, HttpMethod.OPTIONS,
            HttpMethod.TRACE);

    private RetryRule() {
    }

    static boolean mayResend(HttpRequest head) {
        return SAFE.contains(head.method()) && !HttpUtil.isTransferEncodingChunked(head)
                && HttpUtil.getContentLength(head, 0L) == 0;
    }
}
