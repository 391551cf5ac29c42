package io.baton.appliance.admin;

import io.baton.appliance.ApplianceNode;
import io.baton.cluster.history.AuditTrail;
import io.baton.appliance.NodeStartException;
import io.baton.config.HostPort;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerExpectContinueHandler;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.timeout.ReadTimeoutHandler;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.ScheduledFuture;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.net.InetSocketAddress;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The admin API over HTTP/1.1: one small Netty server, one event-loop thread (it serves operators
 * and scripts, not traffic). Pipeline: a bound on connections, an idle timeout, the HTTP codec (its
 * head bounded), a deadline for each whole request, admission ({@link AdminAccess}, from the head,
 * before any body is read), a shared budget for bodies being read, a bounded aggregator (413 beyond
 * it), the router. {@code /healthz} and {@code /metrics} are answered on the event loop; everything
 * else runs on worker threads (a failover waits up to 5 s, an apply for the cluster), so that
 * those two always answer at once. A connection's requests are answered in order.
 */
public final class AdminServer implements AutoCloseable {

    /** A whole configuration fits easily; anything larger is refused with 413. */
    static final int MAX_BODY_BYTES = 4 * 1024 * 1024;
    /** Bodies being read at once, over every connection: the node's heap is small. */
    static final long BODY_BUDGET_BYTES = 32L * 1024 * 1024;
    /** A connection that sends nothing for this long is closed. */
    static final int IDLE_TIMEOUT_SECONDS = 30;
    /** A request, head and body, arrives within this or gets 408. */
    static final int REQUEST_DEADLINE_SECONDS = 10;
    /** Connections at once; the next ones are closed at once. Operators and monitoring need a handful. */
    static final int MAX_CONNECTIONS = 1024;
    /** Requests waiting for a worker; beyond them, 503. */
    static final int MAX_QUEUED = 64;

    private static final Logger LOG = LogManager.getLogger(AdminServer.class);
    private static final AttributeKey<AdminTokens.Caller> CALLER = AttributeKey.valueOf("baton.admin.caller");
    private static final AttributeKey<CompletableFuture<Void>> LAST = AttributeKey.valueOf("baton.admin.last");

    private final EventLoopGroup group;
    private final Channel channel;
    private final HostPort address;
    private final ExecutorService reads;
    private final ExecutorService changes;

    private AdminServer(EventLoopGroup group, Channel channel, HostPort address, ExecutorService reads,
                        ExecutorService changes) {
        this.group = group;
        this.channel = channel;
        this.address = address;
        this.reads = reads;
        this.changes = changes;
    }

    /** Serves the API on {@code address}; over TLS with {@code tls} ({@link AdminTls}), plain HTTP when null. */
    public static AdminServer start(HostPort address, ApplianceNode node, AdminAccess access, SslContext tls)
            throws NodeStartException {
        AdminApi api = new AdminApi(node);
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("baton-admin", true),
                NioIoHandler.newFactory());
        // reads in parallel with a change in progress; changes one at a time (the cluster orders them anyway)
        ExecutorService reads = workers("baton-admin-read", 2);
        ExecutorService changes = workers("baton-admin-change", 1);
        AtomicInteger connections = new AtomicInteger();
        AtomicLong budget = new AtomicLong(BODY_BUDGET_BYTES);
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_REUSEADDR, true)
                .option(ChannelOption.SO_BACKLOG, 256)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel channel) {
                        if (connections.incrementAndGet() > MAX_CONNECTIONS) {
                            connections.decrementAndGet();
                            LOG.debug("admin connection from {} closed: {} connections already",
                                    channel.remoteAddress(), MAX_CONNECTIONS);
                            channel.close();
                            return;
                        }
                        channel.closeFuture().addListener(closed -> connections.decrementAndGet());
                        channel.pipeline().addLast("idle", new ReadTimeoutHandler(IDLE_TIMEOUT_SECONDS));
                        if (tls != null) {
                            SslHandler handshake = tls.newHandler(channel.alloc());
                            handshake.setHandshakeTimeoutMillis(REQUEST_DEADLINE_SECONDS * 1000L);
                            channel.pipeline().addLast("tls", handshake);
                        }
                        channel.pipeline()
                                .addLast("http", new HttpServerCodec(4096, 16 * 1024, 8192))
                                .addLast("deadline", new RequestDeadline())
                                .addLast("admit", new Admission(access))
                                .addLast("budget", new BodyBudget(budget))
                                .addLast("continue", new HttpServerExpectContinueHandler())
                                .addLast("body", new HttpObjectAggregator(MAX_BODY_BYTES))
                                .addLast("api", new ApiHandler(api, reads, changes));
                    }
                });
        try {
            Channel channel = bootstrap.bind(address.host(), address.port()).sync().channel();
            InetSocketAddress bound = (InetSocketAddress) channel.localAddress();
            return new AdminServer(group, channel, new HostPort(address.host(), bound.getPort()), reads, changes);
        } catch (Exception e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            reads.shutdownNow();
            changes.shutdownNow();
            throw new NodeStartException("cannot start the admin API on " + address + ": " + e.getMessage()
                    + " (is another node or program listening there? choose another with --admin HOST:PORT)", e);
        }
    }

    private static ExecutorService workers(String name, int threads) {
        return new ThreadPoolExecutor(threads, threads, 0, TimeUnit.MILLISECONDS,
                new ArrayBlockingQueue<>(MAX_QUEUED), new DefaultThreadFactory(name, true),
                new ThreadPoolExecutor.AbortPolicy());
    }

    /** Where the API listens (with the real port when 0 was asked for). */
    public HostPort address() {
        return address;
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        reads.shutdownNow();
        changes.shutdownNow();
    }

    /** Writes {@code response} and, unless kept alive, closes the connection after it. */
    static void send(ChannelHandlerContext ctx, ApiResponse response, boolean keepAlive) {
        FullHttpResponse http = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                HttpResponseStatus.valueOf(response.status()), Unpooled.wrappedBuffer(response.body()));
        http.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, response.contentType().contains("charset") ? response.contentType()
                        : response.contentType() + "; charset=utf-8")
                .setInt(HttpHeaderNames.CONTENT_LENGTH, response.body().length)
                .set(HttpHeaderNames.CACHE_CONTROL, "no-store")
                .set("X-Content-Type-Options", "nosniff");
        if (response.status() == 401) {
            http.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Bearer realm=\"baton\"");
        }
        if (response.allow() != null) {
            http.headers().set(HttpHeaderNames.ALLOW, response.allow());
        }
        HttpUtil.setKeepAlive(http, keepAlive);
        var write = ctx.writeAndFlush(http);
        if (!keepAlive) {
            write.addListener(ChannelFutureListener.CLOSE);
        }
    }

    /** 408 for a request whose head and body did not all arrive within {@link #REQUEST_DEADLINE_SECONDS}. */
    private static final class RequestDeadline extends ChannelDuplexHandler {

        private ScheduledFuture<?> timer;
        private boolean answered;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object message) {
            if (message instanceof HttpRequest && timer == null) {
                answered = false;
                timer = ctx.executor().schedule(() -> expire(ctx), REQUEST_DEADLINE_SECONDS, TimeUnit.SECONDS);
            }
            if (message instanceof LastHttpContent && timer != null) {
                timer.cancel(false);
                timer = null;
            }
            ctx.fireChannelRead(message);
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object message, ChannelPromise promise) {
            answered = true; // an answer on its way (a refusal before the body ended): no 408 on top of it
            ctx.write(message, promise);
        }

        private void expire(ChannelHandlerContext ctx) {
            timer = null;
            LOG.debug("admin request from {} not complete within {} s: closed", ctx.channel().remoteAddress(),
                    REQUEST_DEADLINE_SECONDS);
            if (answered) {
                ctx.close();
                return;
            }
            send(ctx, AdminApi.error(408, "the request did not arrive within " + REQUEST_DEADLINE_SECONDS + " s"),
                    false);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (timer != null) {
                timer.cancel(false);
            }
            ctx.fireChannelInactive();
        }
    }

    /** The operator's reason as the CLI sends it (percent-encoded UTF-8); a header that is not, as it came. */
    static String reason(String header) {
        try {
            return java.net.URLDecoder.decode(header, java.nio.charset.StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return header;
        }
    }

    /** Decides from the head; a refused request is answered at once and the rest of it never read. */
    private static final class Admission extends ChannelInboundHandlerAdapter {

        private final AdminAccess access;
        private boolean discarding;

        Admission(AdminAccess access) {
            this.access = access;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object message) {
            if (message instanceof HttpRequest request) {
                if (request.decoderResult().isFailure()) {
                    discarding = true;
                    send(ctx, AdminApi.error(400, "malformed HTTP request: "
                            + request.decoderResult().cause().getMessage()), false);
                } else {
                    AdminAccess.Verdict verdict = access.decide(new AdminAccess.Head(request.method().name(),
                            new QueryStringDecoder(request.uri()).path(), request.headers().get(HttpHeaderNames.HOST),
                            request.headers().get(HttpHeaderNames.ORIGIN), request.headers().get("Sec-Fetch-Site"),
                            request.headers().get(HttpHeaderNames.CONTENT_TYPE),
                            request.headers().get(HttpHeaderNames.AUTHORIZATION)));
                    if (verdict instanceof AdminAccess.Refused refused) {
                        discarding = true;
                        LOG.info("admin API refused {} {} from {}: {} {}", request.method(), request.uri(),
                                ctx.channel().remoteAddress(), refused.status(), refused.reason());
                        send(ctx, AdminApi.error(refused.status(), refused.reason()), false);
                    } else {
                        discarding = false;
                        ctx.channel().attr(CALLER).set(((AdminAccess.Admitted) verdict).caller());
                    }
                }
                if (discarding) {
                    ReferenceCountUtil.release(message);
                    return;
                }
            } else if (discarding) {
                ReferenceCountUtil.release(message);
                return;
            }
            ctx.fireChannelRead(message);
        }
    }

    /**
     * Reserves, from a budget shared by every connection, room for a body before it is read (its
     * declared length, or the most a body may be): 1 024 connections each sending 4 MiB would not
     * fit in the node's heap. A request that does not fit now gets 503.
     */
    private static final class BodyBudget extends ChannelInboundHandlerAdapter {

        private final AtomicLong budget;
        private long reserved;
        private boolean discarding;

        BodyBudget(AtomicLong budget) {
            this.budget = budget;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object message) {
            if (message instanceof HttpRequest request) {
                release();
                discarding = false;
                long wanted = HttpUtil.isTransferEncodingChunked(request) ? MAX_BODY_BYTES
                        : Math.min(HttpUtil.getContentLength(request, 0L), MAX_BODY_BYTES);
                if (wanted > 0 && !reserve(wanted)) {
                    discarding = true;
                    ReferenceCountUtil.release(message);
                    send(ctx, AdminApi.error(503, "the admin API is reading too many bodies at once; try again"),
                            false);
                    return;
                }
            } else if (discarding) {
                ReferenceCountUtil.release(message);
                return;
            }
            if (message instanceof LastHttpContent) {
                ctx.fireChannelRead(message);
                release();
                return;
            }
            ctx.fireChannelRead(message);
        }

        private boolean reserve(long wanted) {
            while (true) {
                long left = budget.get();
                if (left < wanted) {
                    return false;
                }
                if (budget.compareAndSet(left, left - wanted)) {
                    reserved = wanted;
                    return true;
                }
            }
        }

        private void release() {
            if (reserved > 0) {
                budget.addAndGet(reserved);
                reserved = 0;
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            release();
            ctx.fireChannelInactive();
        }
    }

    /** Turns one aggregated request into one response from the {@link AdminApi}, in the connection's order. */
    private static final class ApiHandler extends SimpleChannelInboundHandler<FullHttpRequest> {

        private final AdminApi api;
        private final ExecutorService reads;
        private final ExecutorService changes;

        ApiHandler(AdminApi api, ExecutorService reads, ExecutorService changes) {
            this.api = api;
            this.reads = reads;
            this.changes = changes;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            if (request.decoderResult().isFailure()) {
                AdminServer.send(ctx, AdminApi.error(400, "malformed HTTP request: " + request.decoderResult().cause()
                        .getMessage()), false);
                return;
            }
            String method = request.method().name();
            String path = new QueryStringDecoder(request.uri()).path();
            String contentType = request.headers().get(HttpHeaderNames.CONTENT_TYPE);
            byte[] body = ByteBufUtil.getBytes(request.content());
            boolean keepAlive = HttpUtil.isKeepAlive(request);
            AdminTokens.Caller caller = ctx.channel().attr(CALLER).get();
            String peer = ctx.channel().remoteAddress() instanceof java.net.InetSocketAddress address
                    ? address.getAddress().getHostAddress() + ":" + address.getPort()
                    : String.valueOf(ctx.channel().remoteAddress());
            String reason = reason(request.headers().get(AdminApi.REASON_HEADER, ""));
            AuditTrail.Caller who = new AuditTrail.Caller(caller == null ? "?" : caller.name(), peer, reason);
            boolean change = !method.equals("GET") && !method.equals("HEAD");
            Runnable work = () -> {
                if (change) {
                    LOG.info("admin API: {} {} by {} from {}", method, path, caller == null ? "?" : caller.name(),
                            peer);
                }
                ApiResponse response = api.handle(method, path, contentType, body, who);
                AdminServer.send(ctx, response, keepAlive);
            };
            CompletableFuture<Void> last = ctx.channel().attr(LAST).get();
            boolean quick = method.equals("GET") && (path.equals(AdminApi.HEALTHZ) || path.equals(AdminApi.METRICS));
            if (quick && (last == null || last.isDone())) {
                work.run();
                return;
            }
            ExecutorService pool = quick ? null : change ? changes : reads;
            CompletableFuture<Void> after = last == null ? CompletableFuture.completedFuture(null) : last;
            CompletableFuture<Void> next = after.handle((done, failed) -> null).thenRunAsync(work,
                    pool == null ? ctx.executor() : pool);
            ctx.channel().attr(LAST).set(next.exceptionally(failed -> {
                Throwable cause = failed instanceof java.util.concurrent.CompletionException && failed.getCause() != null
                        ? failed.getCause() : failed;
                if (cause instanceof RejectedExecutionException) {
                    AdminServer.send(ctx, AdminApi.error(503, "the admin API is busy (" + MAX_QUEUED
                            + " requests waiting); try again"), false);
                } else {
                    LOG.error("admin API {} {} failed", method, path, cause);
                    AdminServer.send(ctx, AdminApi.error(500, "internal error while handling " + method + " " + path
                            + "; see the node's log"), false);
                }
                return null;
            }));
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            LOG.debug("admin connection from {} closed: {}", ctx.channel().remoteAddress(), cause.toString());
            ctx.close();
        }
    }
}
