package io.baton.forwarding.l7;

import io.baton.config.ProxyProtocol;
import io.baton.config.VirtualService;
import io.baton.forwarding.Backend;
import io.baton.forwarding.Selection;
import io.baton.forwarding.ServicePool;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The end of the client side's pipeline in {@code http} mode: one exchange (a request and its
 * answer) at a time, through its {@link Phase}s. The handlers before it have judged the head's
 * framing ({@link RequestGate}), added the forwarding headers ({@link ForwardedHeaders}), read the
 * persistence cookie ({@link PersistenceCookie}) and watch the request deadline
 * ({@link RequestDeadline}); this one buffers the start of the body, chooses a server (the
 * client's pinned one, then the scheduler; waiting in the service's queue when every usable one
 * is at its limit), takes a pooled keep-alive connection to it or opens one, streams the request
 * and then the answer, and sends a request again to the next server where {@link RetryRule}
 * allows it. Bodies are never aggregated: reading from a side stops while the other side cannot
 * take more (a bounded queue towards the server, channel writability towards the client). A
 * malformed body never reaches the other side as a complete one.
 */
final class ExchangeHandler extends ChannelInboundHandlerAdapter {

    private static final Logger LOG = LogManager.getLogger(ExchangeHandler.class);

    /** Reading stops while this many decoded objects wait to be handled. */
    private static final int MAX_QUEUED = 64;

    /** Where an exchange is. */
    enum Phase {
        /**
         * Reading the start of the body (up to {@code limits.request-buffer}) before a server is
         * chosen (HAProxy's http-buffer-request): a client that dribbles its request holds no
         * server connection, and a malformed body that fits is refused before a server sees it.
         */
        BUFFERING,
        /** Every usable server is at its connection limit: waiting in the service's queue. */
        QUEUED,
        /** A server is chosen (its slot taken) and its connection is being opened. */
        CONNECTING,
        /** The request goes to the server; no answer has begun. */
        REQUEST,
        /** The answer streams to the client (the request may still be streaming to the server). */
        ANSWER
    }

    private final ServicePool pool;
    private final BackendConnections connections;
    /** Each server connection starts with a PROXY v2 header naming this client (and is this client's only). */
    private final boolean proxyHeader;
    /** Connections to the servers speak TLS too; null for clear text. */
    private final TlsTermination reencrypt;
    /** This client's server connections are its own (not the event loop's). */
    private final boolean privatePool;
    /** True while the VIPs are handed over: the connection closes after its answer. */
    private final java.util.function.BooleanSupplier handingOver;
    /** Decoded input not handled yet (pipelined requests, body chunks waiting for the server). */
    private final ArrayDeque<Object> inbound = new ArrayDeque<>();
    private ChannelHandlerContext ctx;
    private InetAddress clientAddress;
    private Exchange exchange;
    private boolean closing;
    /** An exchange has been answered on this connection: between two, it is an idle keep-alive one. */
    private boolean answered;

    /** One request and its answer. */
    private static final class Exchange {
        final ClientRequest request;
        final boolean retriable;
        Phase phase;
        Set<Backend> tried = Set.of();
        /** The server whose connection slot this exchange holds (taken when it was chosen). */
        Backend slot;
        Backend backend;
        Channel server;
        InetSocketAddress serverAddress;
        /** A chunk's write to the server is under way: the next waits for it. */
        boolean writing;
        /** The whole request has gone to the server. */
        boolean requestComplete;
        /** An interim (1xx) answer is streaming: the final one follows. */
        boolean informational;
        boolean serverKeepAlive;
        /** The client was told that the connection closes after this answer. */
        boolean clientClose;
        /** What is buffered of the body so far (phase BUFFERING). */
        ByteBuf body;
        ServicePool.Waiter waiter;
        ScheduledFuture<?> queueTimer;

        Exchange(ClientRequest request) {
            this.request = request;
            this.retriable = RetryRule.mayResend(request.head());
        }

        boolean hasServer() {
            return phase == Phase.REQUEST || phase == Phase.ANSWER;
        }

        void tried(Backend backend) {
            if (tried.isEmpty()) {
                tried = new HashSet<>();
            }
            tried.add(backend);
        }
    }

    /**
     * @param tls the TLS the client connection was accepted with, and whether to re-encrypt to the
     *            servers; null for a service without TLS
     */
    ExchangeHandler(ServicePool pool, TlsTermination tls, BackendConnections connections,
                    java.util.function.BooleanSupplier handingOver) {
        this.pool = pool;
        this.proxyHeader = pool.config().proxyProtocol() == ProxyProtocol.V2;
        this.reencrypt = tls != null && tls.reencrypts() ? tls : null;
        // a server connection that began with this client's PROXY header speaks for this client
        // alone: it is kept for the client's next request, never handed to another client; one in
        // TLS is kept for its client too (so that it never meets a clear-text service's connections)
        this.privatePool = proxyHeader || reencrypt != null;
        this.connections = privatePool ? new BackendConnections() : connections;
        this.handingOver = handingOver;
    }

    /**
     * The VIPs are handed over: a keep-alive connection between two exchanges closes now (on its
     * event loop). One that has not sent its first request yet is not closed: its client sent or
     * is sending one, which it would not resend; that request is answered, then the connection closes.
     */
    void closeIfIdle() {
        if (ctx != null && answered && !closing && exchange == null && inbound.isEmpty()) {
            closing = true;
            ctx.close();
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext context) {
        ctx = context;
        clientAddress = ((InetSocketAddress) context.channel().remoteAddress()).getAddress();
    }

    @Override
    public void channelRead(ChannelHandlerContext context, Object msg) {
        if (closing) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (exchange != null && exchange.phase == Phase.BUFFERING && msg instanceof HttpContent content) {
            absorb(content);
            drain();
            return;
        }
        inbound.add(msg);
        if (inbound.size() >= MAX_QUEUED) {
            ctx.channel().config().setAutoRead(false); // backpressure: the queue is handled first
        }
        drain();
        if (inbound.size() < MAX_QUEUED / 2 && !closing) {
            ctx.channel().config().setAutoRead(true);
        }
    }

    /** Handles queued input as far as the current phase allows. */
    private void drain() {
        while (!closing) {
            if (exchange == null) {
                Object next = inbound.poll();
                if (next == null) {
                    return;
                }
                if (next instanceof ClientRequest request) {
                    startExchange(request);
                } else if (next instanceof ClientRequest.Refused refused) {
                    reject(refused.status(), refused.reason());
                } else {
                    ReferenceCountUtil.release(next);
                }
            } else if (exchange.hasServer() && !exchange.writing && !exchange.requestComplete) {
                Object next = inbound.poll();
                if (next == null) {
                    exchange.server.flush();
                    return;
                }
                forwardBody((HttpContent) next);
            } else {
                return; // buffering (pieces are absorbed as they are read), queued, connecting, or sent
            }
        }
    }

    private void startExchange(ClientRequest request) {
        exchange = new Exchange(request);
        if ((HttpUtil.isTransferEncodingChunked(request.head()) || HttpUtil.getContentLength(request.head(), 0L) > 0)
                && pool.config().limits().requestBuffer() > 0) {
            exchange.phase = Phase.BUFFERING;
            while (exchange != null && exchange.phase == Phase.BUFFERING && inbound.peek() instanceof HttpContent queued) {
                inbound.poll();
                absorb(queued); // pieces read while an earlier exchange ran
            }
            return;
        }
        dispatch();
    }

    /**
     * While the exchange buffers its body, one piece of it: copied into one buffer (however small
     * the pieces a client dribbles), until the body is complete or the buffer is full; then the
     * buffered body is queued and a server is chosen. A malformed piece is refused before any
     * server sees anything.
     */
    private void absorb(HttpContent content) {
        Exchange current = exchange;
        if (content.decoderResult().isFailure()) {
            String cause = String.valueOf(content.decoderResult().cause().getMessage());
            ReferenceCountUtil.release(content);
            LOG.info("{}: malformed request body from {}: {}", pool.name(), ctx.channel().remoteAddress(), cause);
            reject(HttpResponseStatus.BAD_REQUEST, "malformed request body (" + cause + ")");
            return;
        }
        int limit = pool.config().limits().requestBuffer();
        if (current.body == null) {
            current.body = ctx.alloc().buffer(Math.min(limit, Math.max(256, content.content().readableBytes())));
        }
        current.body.writeBytes(content.content());
        boolean last = content instanceof LastHttpContent;
        if (!last && current.body.readableBytes() < limit) {
            ReferenceCountUtil.release(content);
            return;
        }
        inbound.addFirst(new DefaultHttpContent(current.body));
        current.body = null;
        if (last) {
            HttpHeaders trailers = ((LastHttpContent) content).trailingHeaders();
            List<Object> after = new ArrayList<>(inbound);
            inbound.clear();
            inbound.add(after.remove(0));
            inbound.add(trailers.isEmpty() ? LastHttpContent.EMPTY_LAST_CONTENT
                    : new DefaultLastHttpContent(Unpooled.EMPTY_BUFFER, trailers.copy()));
            inbound.addAll(after);
        }
        ReferenceCountUtil.release(content);
        dispatch();
    }

    private static void releaseBody(Exchange exchange) {
        if (exchange != null && exchange.body != null) {
            exchange.body.release();
            exchange.body = null;
        }
    }

    /** Chooses a server for the current exchange and gets a connection to it. */
    private void dispatch() {
        Exchange current = exchange;
        Backend chosen = null;
        String pinned = current.request.pinnedServer();
        if (pinned != null) {
            Backend persistent = pool.backend(pinned)
                    .filter(backend -> backend.acceptsPersistent() && !current.tried.contains(backend))
                    .orElse(null);
            if (persistent != null && !persistent.reserve(ctx.channel())) {
                queue(current); // the client's session is on that server: it waits for it
                return;
            }
            chosen = persistent;
        }
        if (chosen == null) {
            Selection selection = pool.choose(clientAddress, current.tried, ctx.channel());
            if (selection.reason() == Selection.Reason.BUSY) {
                queue(current);
                return;
            }
            if (!selection.found()) {
                pool.countError();
                if (selection.reason() == Selection.Reason.NO_HEALTHY_SERVER) {
                    reject(HttpResponseStatus.SERVICE_UNAVAILABLE, "no server is available");
                } else {
                    reject(HttpResponseStatus.BAD_GATEWAY, "no server could be reached");
                }
                return;
            }
            chosen = selection.backend();
        }
        stopWaiting(current);
        current.slot = chosen;
        current.phase = Phase.CONNECTING;
        Backend backend = chosen;
        InetSocketAddress address = backend.socketAddress(((InetSocketAddress) ctx.channel().localAddress()).getPort());
        Channel pooled = connections.acquire(address);
        if (pooled != null) {
            attach(backend, address, pooled);
            return;
        }
        VirtualService service = pool.config();
        new Bootstrap()
                .group(ctx.channel().eventLoop())
                .channel(Transport.socketChannel())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) service.timeouts().connect().toMillis())
                .option(ChannelOption.TCP_NODELAY, true)
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel channel) {
                        if (reencrypt != null) {
                            channel.pipeline().addLast("tls", reencrypt.newServerHandler(channel.alloc()));
                        }
                        channel.pipeline()
                                .addLast("timeout", new IdleStateHandler(
                                        service.timeouts().serverIdle().toMillis(), 0, 0, TimeUnit.MILLISECONDS))
                                .addLast("http", new HttpClientCodec(L7Engine.decoderConfig(), false, false))
                                .addLast("backend", new HttpBackendHandler(connections, address));
                    }
                })
                .connect(address)
                .addListener((ChannelFuture future) -> {
                    if (closing || exchange != current) {
                        future.channel().close(); // the slot went back when the exchange ended
                        return;
                    }
                    if (future.isSuccess()) {
                        if (proxyHeader) {
                            // ahead of the HTTP codec: the header's bytes go to the socket as they are
                            future.channel().pipeline().firstContext().writeAndFlush(ProxyHeader.of(ctx.channel()),
                                    future.channel().voidPromise());
                        }
                        attach(backend, address, future.channel());
                    } else {
                        backend.countError();
                        releaseSlot(current);
                        current.tried(backend);
                        LOG.warn("{}: cannot connect to {} {}: {}; trying the next server", pool.name(), backend.name(),
                                address, future.cause().getMessage());
                        dispatch();
                    }
                });
    }

    /**
     * Every usable server is at its connection limit: the exchange waits in the service's queue,
     * holding no server connection, until a slot frees (then it chooses again) or the queue
     * timeout ends it with 503. A full queue is 503 at once.
     */
    private void queue(Exchange current) {
        current.phase = Phase.QUEUED;
        if (current.waiter != null) {
            pool.awaitAgain(current.waiter);
            return;
        }
        ServicePool.Waiter waiter = new ServicePool.Waiter(ctx.executor(), () -> {
            if (closing || exchange != current) {
                pool.wakeNext(); // this one is gone: the slot is the next waiter's
                return;
            }
            dispatch();
        });
        if (!pool.await(waiter)) {
            reject(HttpResponseStatus.SERVICE_UNAVAILABLE,
                    "every server is at its connection limit and the queue is full");
            return;
        }
        current.waiter = waiter;
        Duration patience = pool.config().limits().queueTimeout();
        current.queueTimer = ctx.executor().schedule(() -> {
            if (exchange == current && current.waiter == waiter && pool.leave(waiter)) {
                current.waiter = null;
                pool.queueTimedOut();
                reject(HttpResponseStatus.SERVICE_UNAVAILABLE, "no server had a free connection within " + patience);
            }
        }, patience.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** The exchange no longer waits for a slot (it got one, or it ended). */
    private void stopWaiting(Exchange current) {
        if (current == null || current.waiter == null) {
            return;
        }
        pool.leave(current.waiter);
        current.waiter = null;
        if (current.queueTimer != null) {
            current.queueTimer.cancel(false);
            current.queueTimer = null;
        }
    }

    /** Gives back the server slot the exchange holds, if any. */
    private void releaseSlot(Exchange current) {
        if (current != null && current.slot != null) {
            current.slot.connectionClosed(ctx.channel());
            current.slot = null;
        }
    }

    private void attach(Backend backend, InetSocketAddress address, Channel server) {
        Exchange current = exchange;
        current.backend = backend;
        current.server = server;
        current.serverAddress = address;
        server.pipeline().get(HttpBackendHandler.class).own(this);
        backend.connectionOpened(ctx.channel());
        pool.connected(clientAddress, backend);
        // a failed write closes the server connection (exceptionCaught), and onServerClosed decides
        server.write(current.request.head(), server.voidPromise());
        if (current.requestComplete) {
            // a resend: the body-less request was read in full before
            server.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT, server.voidPromise());
        }
        current.phase = Phase.REQUEST;
        drain();
    }

    private void forwardBody(HttpContent content) {
        Exchange current = exchange;
        if (content.decoderResult().isFailure()) {
            // a malformed chunk: the server must not see the request end cleanly (a truncated upload
            // would look whole): its connection is closed with the request unfinished
            String cause = String.valueOf(content.decoderResult().cause().getMessage());
            ReferenceCountUtil.release(content);
            LOG.info("{}: malformed request body from {}: {}", pool.name(), ctx.channel().remoteAddress(), cause);
            if (current.phase == Phase.ANSWER) {
                abort();
            } else {
                reject(HttpResponseStatus.BAD_REQUEST, "malformed request body (" + cause + ")");
            }
            return;
        }
        current.backend.addBytesIn(content.content().readableBytes());
        if (content instanceof LastHttpContent) {
            current.server.writeAndFlush(content, current.server.voidPromise());
            current.requestComplete = true;
            return;
        }
        current.writing = true;
        current.server.writeAndFlush(content).addListener((ChannelFuture future) -> {
            if (exchange != current) {
                return;
            }
            current.writing = false;
            if (future.isSuccess()) {
                drain(); // the next chunk only once this one is written
            }
        });
    }

    void onServerMessage(Channel server, HttpObject message) {
        Exchange current = exchange;
        if (current == null || current.server != server) {
            ReferenceCountUtil.release(message);
            server.close();
            return;
        }
        Object toClient = message;
        if (message instanceof HttpResponse response) {
            if (response.decoderResult().isFailure()) {
                ReferenceCountUtil.release(message);
                server.close();
                return;
            }
            String refused = HttpFraming.response(response);
            if (refused != null) {
                ReferenceCountUtil.release(message);
                LOG.warn("{}: server {} sent a response this proxy does not pass on: {}", pool.name(),
                        current.backend.name(), refused);
                current.backend.countError();
                reject(HttpResponseStatus.BAD_GATEWAY, "the server's response is malformed (" + refused + ")");
                return;
            }
            current.informational = response.status().codeClass() == HttpStatusClass.INFORMATIONAL;
            if (!current.informational) {
                current.phase = Phase.ANSWER;
                current.serverKeepAlive = HttpUtil.isKeepAlive(response);
                HttpFraming.prepareForwarding(response.headers());
                current.clientClose = !current.request.keepAlive() || handingOver.getAsBoolean();
                HttpUtil.setKeepAlive(response, !current.clientClose);
                toClient = new PersistenceCookie.Served(response, current.backend.name(),
                        current.request.pinnedServer());
            }
        }
        if (message instanceof HttpContent content) {
            if (content.decoderResult().isFailure()) {
                // a malformed chunk from the server: the client must not see the response end cleanly
                ReferenceCountUtil.release(message);
                LOG.warn("{}: server {} sent a malformed response body: {}", pool.name(), current.backend.name(),
                        content.decoderResult().cause().getMessage());
                current.backend.countError();
                if (current.phase == Phase.ANSWER) {
                    abort();
                } else {
                    reject(HttpResponseStatus.BAD_GATEWAY, "the server's response is malformed");
                }
                return;
            }
            current.backend.addBytesOut(content.content().readableBytes());
        }
        boolean finished = message instanceof LastHttpContent && !current.informational;
        if (message instanceof LastHttpContent && current.informational) {
            current.informational = false;
        }
        // written now, flushed when the server's batch is read (channelReadComplete): one system
        // call per batch rather than per message; a failed write closes the client (exceptionCaught)
        ctx.write(toClient, ctx.voidPromise());
        if (finished) {
            ctx.flush();
            finishExchange();
        }
    }

    /** The server's batch is read: flush it, and read more once the client can take it. */
    void onServerReadComplete(Channel server) {
        Exchange current = exchange;
        if (current == null || current.server != server) {
            return;
        }
        ctx.flush();
        if (!ctx.channel().isWritable()) {
            server.config().setAutoRead(false); // backpressure: resumed in channelWritabilityChanged
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext context) {
        Exchange current = exchange;
        if (context.channel().isWritable() && current != null && current.server != null) {
            current.server.config().setAutoRead(true);
        }
        context.fireChannelWritabilityChanged();
    }

    void onServerClosed(Channel server) {
        Exchange current = exchange;
        if (current == null || current.server != server) {
            return;
        }
        if (current.phase == Phase.ANSWER) {
            LOG.warn("{}: server {} closed in the middle of a response to {}; closing the client connection",
                    pool.name(), current.backend.name(), ctx.channel().remoteAddress());
            current.backend.countError();
            abort();
            return;
        }
        releaseSlot(current);
        current.backend.countError();
        if (current.retriable) {
            LOG.info("{}: server {} closed before answering {} {}; sending it to the next server", pool.name(),
                    current.backend.name(), current.request.head().method(), current.request.head().uri());
            current.tried(current.backend);
            current.server = null;
            current.writing = false;
            dispatch();
        } else {
            reject(HttpResponseStatus.BAD_GATEWAY, "the server closed the connection before answering");
        }
    }

    void onServerTimeout(Channel server) {
        Exchange current = exchange;
        if (current == null || current.server != server) {
            server.close();
            return;
        }
        current.backend.countError();
        LOG.warn("{}: server {} did not answer {} {} within {}", pool.name(), current.backend.name(),
                current.request.head().method(), current.request.head().uri(), pool.config().timeouts().serverIdle());
        if (current.phase == Phase.ANSWER) {
            abort();
        } else {
            reject(HttpResponseStatus.GATEWAY_TIMEOUT, "the server did not answer in time");
        }
    }

    private void finishExchange() {
        Exchange current = exchange;
        exchange = null;
        releaseSlot(current);
        HttpBackendHandler handler = current.server.pipeline().get(HttpBackendHandler.class);
        if (handler != null) {
            handler.release();
        }
        if (current.serverKeepAlive && current.requestComplete && current.server.isActive()) {
            connections.release(current.serverAddress, current.server, current.backend.maxConnections());
        } else {
            current.server.close();
        }
        answered = true;
        if (current.clientClose || !current.request.keepAlive()) {
            closing = true;
            releaseInbound();
            ctx.close();
            return;
        }
        drain();
        if (handingOver.getAsBoolean()) {
            closeIfIdle(); // a keep-alive answer sent before the hand-over began
        }
    }

    /** Ends the exchange (if any) with an error page and closes the client connection. */
    private void reject(HttpResponseStatus status, String reason) {
        Exchange current = exchange;
        exchange = null;
        end(current);
        closing = true;
        releaseInbound();
        byte[] body = (status.code() + " " + status.reasonPhrase() + ": " + reason + "\n")
                .getBytes(StandardCharsets.UTF_8);
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                Unpooled.wrappedBuffer(body));
        response.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8")
                .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length)
                .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        if (status.code() >= 500) {
            LOG.warn("{}: {} to {}: {}", pool.name(), status.code(), ctx.channel().remoteAddress(), reason);
        }
        ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
    }

    /** Cuts the client connection: the answer cannot be completed. */
    private void abort() {
        Exchange current = exchange;
        exchange = null;
        end(current);
        closing = true;
        releaseInbound();
        ctx.close();
    }

    /** Gives back what an exchange that ends early holds: its buffer, its place in the queue, its slot, its server. */
    private void end(Exchange current) {
        releaseBody(current);
        stopWaiting(current);
        releaseSlot(current);
        if (current != null && current.server != null) {
            current.server.close();
        }
    }

    private void releaseInbound() {
        Object object;
        while ((object = inbound.poll()) != null) {
            ReferenceCountUtil.release(object);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext context) {
        closing = true;
        releaseInbound();
        Exchange current = exchange;
        exchange = null;
        end(current);
        if (privatePool) {
            connections.closeAll();
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext context, Object event) {
        if (event instanceof RequestDeadline.Expired expired) {
            LOG.info("{}: {} sent no complete request {} within {}; closing", pool.name(),
                    context.channel().remoteAddress(), expired.body() ? "body" : "head",
                    pool.config().timeouts().httpRequest());
            reject(HttpResponseStatus.REQUEST_TIMEOUT, "no complete request in time");
        } else if (event instanceof IdleStateEvent) {
            LOG.info("{}: client {} idle for {}; closing", pool.name(), context.channel().remoteAddress(),
                    pool.config().timeouts().clientIdle());
            abort();
        } else {
            context.fireUserEventTriggered(event);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext context, Throwable cause) {
        LOG.debug("{}: client {}: {}", pool.name(), context.channel().remoteAddress(), cause.toString());
        context.close();
    }
}
