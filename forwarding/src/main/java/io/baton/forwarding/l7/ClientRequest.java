package io.baton.forwarding.l7;

import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;

/**
 * A request head as it travels the client side's pipeline, from {@link RequestGate} to
 * {@link ExchangeHandler}: the head to send on (its framing already canonical) and what the
 * handlers before the exchange learnt of it. Its body follows as the decoder's {@code HttpContent}s.
 *
 * @param keepAlive    whether the client keeps the connection after the answer (read before the
 *                     head's hop-by-hop fields were removed)
 * @param pinnedServer the server the client's persistence cookie names; null without one
 */
record ClientRequest(HttpRequest head, boolean keepAlive, String pinnedServer) {

    ClientRequest pinnedTo(String server) {
        return new ClientRequest(head, keepAlive, server);
    }

    /**
     * A request head that must not be acted on ({@link RequestGate}), in the place the request
     * had: answered with {@code status} when its turn comes, and the connection closed.
     */
    record Refused(HttpResponseStatus status, String reason) {
    }
}
