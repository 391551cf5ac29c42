package io.baton.appliance.admin;

import io.baton.appliance.ApplianceNode;
import io.baton.appliance.NodeStartException;
import io.baton.config.HostPort;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerExpectContinueHandler;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.timeout.ReadTimeoutHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * The admin API over HTTP/1.1: one small Netty server, one event-loop thread (it serves operators
 * and scripts, not traffic). Pipeline: HTTP codec, a bounded body aggregator (413 beyond it), the
 * router.
 */
public final class AdminServer implements AutoCloseable {

    /** A whole configuration fits easily; anything larger is refused with 413. */
    static final int MAX_BODY_BYTES = 4 * 1024 * 1024;
    /** A client that stops sending mid-request is dropped rather than held forever. */
    static final int READ_TIMEOUT_SECONDS = 30;

    private static final Logger LOG = LogManager.getLogger(AdminServer.class);

    private final EventLoopGroup group;
    private final Channel channel;
    private final HostPort address;

    private AdminServer(EventLoopGroup group, Channel channel, HostPort address) {
        this.group = group;
        this.channel = channel;
        this.address = address;
    }

    public static AdminServer start(HostPort address, ApplianceNode node) throws NodeStartException {
        AdminApi api = new AdminApi(node);
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("baton-admin", true),
                NioIoHandler.newFactory());
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel channel) {
                        channel.pipeline()
                                .addLast("idle", new ReadTimeoutHandler(READ_TIMEOUT_SECONDS))
                                .addLast("http", new HttpServerCodec())
                                .addLast("continue", new HttpServerExpectContinueHandler())
                                .addLast("body", new HttpObjectAggregator(MAX_BODY_BYTES))
                                .addLast("api", new ApiHandler(api));
                    }
                });
        try {
            Channel channel = bootstrap.bind(address.host(), address.port()).sync().channel();
            InetSocketAddress bound = (InetSocketAddress) channel.localAddress();
            return new AdminServer(group, channel, new HostPort(address.host(), bound.getPort()));
        } catch (Exception e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw new NodeStartException("cannot start the admin API on " + address + ": " + e.getMessage()
                    + " (is another node or program listening there? choose another with --admin HOST:PORT)", e);
        }
    }

    /** Where the API listens (with the real port when 0 was asked for). */
    public HostPort address() {
        return address;
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** Turns one aggregated request into one response from the {@link AdminApi}. */
    private static final class ApiHandler extends SimpleChannelInboundHandler<FullHttpRequest> {

        private final AdminApi api;

        ApiHandler(AdminApi api) {
            this.api = api;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            if (request.decoderResult().isFailure()) {
                ApiResponse error = AdminApi.error(400, "malformed HTTP request: " + request.decoderResult().cause()
                        .getMessage());
                send(ctx, error, false);
                return;
            }
            String path = new QueryStringDecoder(request.uri()).path();
            byte[] body = ByteBufUtil.getBytes(request.content());
            ApiResponse response = api.handle(request.method().name(), path,
                    request.headers().get(HttpHeaderNames.CONTENT_TYPE), body);
            send(ctx, response, HttpUtil.isKeepAlive(request));
        }

        private static void send(ChannelHandlerContext ctx, ApiResponse response, boolean keepAlive) {
            FullHttpResponse http = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                    HttpResponseStatus.valueOf(response.status()), Unpooled.wrappedBuffer(response.body()));
            http.headers()
                    .set(HttpHeaderNames.CONTENT_TYPE, response.contentType().contains("charset") ? response.contentType()
                            : response.contentType() + "; charset=utf-8")
                    .setInt(HttpHeaderNames.CONTENT_LENGTH, response.body().length);
            if (response.allow() != null) {
                http.headers().set(HttpHeaderNames.ALLOW, response.allow());
            }
            HttpUtil.setKeepAlive(http, keepAlive);
            var write = ctx.writeAndFlush(http);
            if (!keepAlive) {
                write.addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            LOG.debug("admin connection from {} closed: {}", ctx.channel().remoteAddress(), cause.toString());
            ctx.close();
        }
    }
}
