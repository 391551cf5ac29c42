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
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * {@code l7-snat tcp}: one client connection relayed to one real server, byte for byte, in both
 * directions. Backpressure: each side reads its next chunk only when the previous one has been
 * written to the other side. A half-close (shutdown of one direction) is passed through. If the
 * chosen server refuses or times out the connect, the next one is tried (redispatch). With
 * {@code proxy-protocol: v2} the server connection starts with a PROXY header naming the client.
 */
final class TcpFrontendHandler extends ChannelInboundHandlerAdapter {

    private static final Logger LOG = LogManager.getLogger(TcpFrontendHandler.class);

    private final ServicePool pool;
    private final Set<Backend> tried = new HashSet<>();
    private Channel client;
    private Channel server;
    private Backend backend;
    private boolean clientInputShut;
    private boolean serverInputShut;
    /** Waiting for a server slot (every usable server at its maximum); null otherwise. */
    private ServicePool.Waiter waiter;
    private io.netty.util.concurrent.ScheduledFuture<?> queueTimer;

    /** Re-encrypts to the servers; null for clear text. */
    private final TlsTermination reencrypt;

    /** @param tls the TLS the client connection was accepted with; null for a service without TLS */
    TcpFrontendHandler(ServicePool pool, TlsTermination tls) {
        this.pool = pool;
        this.reencrypt = tls != null && tls.reencrypts() ? tls : null;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        client = ctx.channel();
        connect();
    }

    private void connect() {
        if (!client.isActive()) {
            return;
        }
        InetAddress clientAddress = ((InetSocketAddress) client.remoteAddress()).getAddress();
        Selection selection = pool.choose(clientAddress, tried, client);
        if (selection.reason() == Selection.Reason.BUSY) {
            queue();
            return;
        }
        stopWaiting();
        if (!selection.found()) {
            pool.countError();
            LOG.warn("{}: no server for {} ({}); closing", pool.name(), client.remoteAddress(),
                    selection.reason() == Selection.Reason.NO_HEALTHY_SERVER ? "no server is available"
                            : "every server tried failed: " + names(tried));
            client.close();
            return;
        }
        Backend chosen = selection.backend();
        VirtualService service = pool.config();
        InetSocketAddress target = chosen.socketAddress(((InetSocketAddress) client.localAddress()).getPort());
        Bootstrap bootstrap = new Bootstrap()
                .group(client.eventLoop())
                .channel(Transport.socketChannel())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) service.timeouts().connect().toMillis())
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.TCP_NODELAY, true)
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel channel) {
                        if (reencrypt != null) {
                            channel.pipeline().addLast("tls", reencrypt.newServerHandler(channel.alloc()));
                        }
                        channel.pipeline()
                                .addLast("idle", new IdleStateHandler(0, 0,
                                        service.timeouts().serverIdle().toMillis(), TimeUnit.MILLISECONDS))
                                .addLast("relay", new ServerSide());
                    }
                });
        bootstrap.connect(target).addListener((ChannelFuture future) -> {
            if (!client.isActive()) {
                chosen.connectionClosed(client); // its slot back
                future.channel().close();
                return;
            }
            if (!future.isSuccess()) {
                chosen.countError();
                chosen.connectionClosed(client);
                tried.add(chosen);
                LOG.warn("{}: cannot connect to {} {} for {}: {}; trying the next server", pool.name(), chosen.name(),
                        target, client.remoteAddress(), future.cause().getMessage());
                connect();
                return;
            }
            server = future.channel();
            backend = chosen;
            backend.connectionOpened(client);
            pool.connected(clientAddress, chosen);
            if (service.proxyProtocol() == ProxyProtocol.V2) {
                // ahead of any TLS to the server: the header goes in the clear, as receivers expect
                server.pipeline().firstContext().writeAndFlush(ProxyHeader.of(client), server.voidPromise());
            }
            client.read();
            server.read();
        });
    }

    /**
     * Every usable server is at its connection limit: the client waits in the service's queue
     * (nothing is read from it meanwhile) until a slot frees or the queue timeout closes it.
     */
    private void queue() {
        if (waiter != null) {
            pool.awaitAgain(waiter);
            return;
        }
        ServicePool.Waiter queued = new ServicePool.Waiter(client.eventLoop(), () -> {
            if (!client.isActive()) {
                pool.wakeNext(); // this one is gone: the slot is the next waiter's
                return;
            }
            connect();
        });
        if (!pool.await(queued)) {
            LOG.warn("{}: every server is at its connection limit and the queue is full; closing {}", pool.name(),
                    client.remoteAddress());
            client.close();
            return;
        }
        waiter = queued;
        java.time.Duration patience = pool.config().limits().queueTimeout();
        queueTimer = client.eventLoop().schedule(() -> {
            if (waiter == queued && pool.leave(queued)) {
                waiter = null;
                pool.queueTimedOut();
                LOG.warn("{}: no server had a free connection for {} within {}; closing", pool.name(),
                        client.remoteAddress(), patience);
                client.close();
            }
        }, patience.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void stopWaiting() {
        if (waiter != null) {
            pool.leave(waiter);
            waiter = null;
        }
        if (queueTimer != null) {
            queueTimer.cancel(false);
            queueTimer = null;
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (server == null || !server.isActive()) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof ByteBuf buffer) {
            backend.addBytesIn(buffer.readableBytes());
        }
        server.writeAndFlush(msg).addListener((ChannelFuture future) -> {
            if (future.isSuccess()) {
                client.read();
            } else {
                closeBoth();
            }
        });
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
        if (event instanceof ChannelInputShutdownEvent) {
            clientInputShut = true;
            passHalfClose(server, serverInputShut);
        } else if (event instanceof IdleStateEvent) {
            LOG.info("{}: client {} idle for {}; closing", pool.name(), client.remoteAddress(),
                    pool.config().timeouts().clientIdle());
            closeBoth();
        } else {
            ctx.fireUserEventTriggered(event);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        stopWaiting();
        if (backend != null) {
            backend.connectionClosed(client);
        }
        if (server != null) {
            flushAndClose(server);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.debug("{}: client {}: {}", pool.name(), client.remoteAddress(), cause.toString());
        if (backend != null) {
            backend.countError();
        }
        closeBoth();
    }

    /** One side stopped sending: stop sending to the other side too, once it has all the data. */
    private void passHalfClose(Channel other, boolean otherInputShut) {
        if (other == null || !other.isActive()) {
            closeBoth();
            return;
        }
        if (otherInputShut) {
            closeBoth();
            return;
        }
        other.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener((ChannelFuture future) -> {
            if (other instanceof DuplexChannel duplex) {
                duplex.shutdownOutput();
            } else {
                other.close();
            }
        });
    }

    private void closeBoth() {
        flushAndClose(client);
        if (server != null) {
            flushAndClose(server);
        }
    }

    private static void flushAndClose(Channel channel) {
        if (channel.isActive()) {
            channel.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
    }

    private static String names(Set<Backend> backends) {
        return String.join(", ", backends.stream().map(Backend::name).toList());
    }

    /** The server side of the relay. */
    private final class ServerSide extends ChannelInboundHandlerAdapter {

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof ByteBuf buffer) {
                backend.addBytesOut(buffer.readableBytes());
            }
            client.writeAndFlush(msg).addListener((ChannelFuture future) -> {
                if (future.isSuccess()) {
                    ctx.channel().read();
                } else {
                    closeBoth();
                }
            });
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object event) {
            if (event instanceof ChannelInputShutdownEvent) {
                serverInputShut = true;
                passHalfClose(client, clientInputShut);
            } else if (event instanceof IdleStateEvent) {
                LOG.info("{}: server {} idle for {}; closing", pool.name(), backend.name(),
                        pool.config().timeouts().serverIdle());
                closeBoth();
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            flushAndClose(client);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            LOG.debug("{}: server {}: {}", pool.name(), backend.name(), cause.toString());
            backend.countError();
            closeBoth();
        }
    }
}
