package io.baton.forwarding.l7;

import io.baton.config.PersistenceType;
import io.baton.forwarding.ServicePool;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.cookie.Cookie;
import io.netty.handler.codec.http.cookie.DefaultCookie;
import io.netty.handler.codec.http.cookie.ServerCookieDecoder;
import io.netty.handler.codec.http.cookie.ServerCookieEncoder;

/**
 * Cookie persistence ({@code persistence: { type: cookie }}): a request that carries the cookie is
 * pinned to the server it names ({@link ClientRequest#pinnedServer}); a response from another
 * server than the one the client named sets the cookie to the server that answered. Services
 * without cookie persistence pass through untouched.
 */
final class PersistenceCookie extends ChannelDuplexHandler {

    /** A response head and the server that answered it, as the exchange writes it. */
    record Served(HttpResponse head, String server, String pinnedServer) {
    }

    private final ServicePool pool;

    PersistenceCookie(ServicePool pool) {
        this.pool = pool;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ClientRequest request && cookies()) {
            ctx.fireChannelRead(request.pinnedTo(cookieValue(request)));
            return;
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (!(msg instanceof Served served)) {
            ctx.write(msg, promise);
            return;
        }
        if (cookies() && !served.server().equals(served.pinnedServer())) {
            DefaultCookie cookie = new DefaultCookie(pool.config().persistence().cookieName(), served.server());
            cookie.setPath("/");
            cookie.setHttpOnly(true);
            served.head().headers().add(HttpHeaderNames.SET_COOKIE, ServerCookieEncoder.STRICT.encode(cookie));
        }
        ctx.write(served.head(), promise);
    }

    private boolean cookies() {
        return pool.config().persistence().type() == PersistenceType.COOKIE;
    }

    private String cookieValue(ClientRequest request) {
        String header = request.head().headers().get(HttpHeaderNames.COOKIE);
        if (header == null) {
            return null;
        }
        String name = pool.config().persistence().cookieName();
        for (Cookie cookie : ServerCookieDecoder.LAX.decode(header)) {
            if (cookie.name().equals(name)) {
                return cookie.value();
            }
        }
        return null;
    }
}
