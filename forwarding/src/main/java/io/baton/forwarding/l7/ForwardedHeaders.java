package io.baton.forwarding.l7;

import io.baton.config.ForwardedFor;
import io.baton.forwarding.ServicePool;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;

import java.net.InetSocketAddress;
import java.util.List;

/**
 * Tells the server who the client is: {@code X-Forwarded-For} (the client's address appended to
 * the list it sent, every such field joined, or alone with {@code forwarded-for: replace}) and
 * {@code X-Forwarded-Proto} ({@code https} where the service terminates TLS).
 */
final class ForwardedHeaders extends ChannelInboundHandlerAdapter {

    private static final AsciiString X_FORWARDED_FOR = AsciiString.cached("X-Forwarded-For");
    private static final AsciiString X_FORWARDED_PROTO = AsciiString.cached("X-Forwarded-Proto");
    private static final AsciiString HTTP = AsciiString.cached("http");
    private static final AsciiString HTTPS = AsciiString.cached("https");

    private final ServicePool pool;
    private String client;

    ForwardedHeaders(ServicePool pool) {
        this.pool = pool;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ClientRequest request) {
            if (client == null) {
                client = ctx.channel().remoteAddress() instanceof InetSocketAddress address
                        ? address.getAddress().getHostAddress() : String.valueOf(ctx.channel().remoteAddress());
            }
            HttpHeaders headers = request.head().headers();
            List<String> sent = pool.config().forwardedFor() == ForwardedFor.REPLACE ? List.of()
                    : headers.getAll(X_FORWARDED_FOR);
            headers.set(X_FORWARDED_FOR, sent.isEmpty() ? client : String.join(", ", sent) + ", " + client);
            headers.set(X_FORWARDED_PROTO, ctx.pipeline().get(io.netty.handler.ssl.SslHandler.class) != null ? HTTPS : HTTP);
        }
        ctx.fireChannelRead(msg);
    }
}
