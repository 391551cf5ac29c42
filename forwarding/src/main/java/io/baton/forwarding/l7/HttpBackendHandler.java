package io.baton.forwarding.l7;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;

import java.net.InetSocketAddress;

/**
 * The end of a server connection's pipeline in {@code http} mode. While a request is in flight it
 * hands everything to the client connection that owns it; while the connection idles in the pool
 * it only notices the server closing it.
 */
final class HttpBackendHandler extends ChannelInboundHandlerAdapter {

    private final BackendConnections pool;
    private final InetSocketAddress server;
    private ExchangeHandler owner;

    HttpBackendHandler(BackendConnections pool, InetSocketAddress server) {
        this.pool = pool;
        this.server = server;
    }

    void own(ExchangeHandler newOwner) {
        this.owner = newOwner;
    }

    void release() {
        this.owner = null;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (owner == null) {
            // a server must not speak unasked; this connection is no longer reusable
            ReferenceCountUtil.release(msg);
            ctx.close();
            return;
        }
        owner.onServerMessage(ctx.channel(), (HttpObject) msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (owner != null) {
            owner.onServerReadComplete(ctx.channel());
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        pool.remove(server, ctx.channel());
        if (owner != null) {
            owner.onServerClosed(ctx.channel());
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
        if (event instanceof IdleStateEvent) {
            if (owner != null) {
                owner.onServerTimeout(ctx.channel());
            } else {
                ctx.close();
            }
        } else {
            ctx.fireUserEventTriggered(event);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }
}
