package io.baton.forwarding.l7;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;

/** Netty's native epoll transport on Linux, NIO where epoll is not available. */
final class Transport {

    static final boolean EPOLL = Epoll.isAvailable();

    private Transport() {
    }

    static IoHandlerFactory ioHandlerFactory() {
        return EPOLL ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    }

    static Class<? extends ServerChannel> serverChannel() {
        return EPOLL ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    }

    static Class<? extends Channel> socketChannel() {
        return EPOLL ? EpollSocketChannel.class : NioSocketChannel.class;
    }

    /**
     * Listening sockets may be bound to an address this host does not have yet (IP_FREEBIND):
     * a node that takes the active role listens on its VIPs before it adds them, so that no
     * client that the new address reaches is refused in between. Epoll only: NIO has no such option.
     */
    static ServerBootstrap freeBind(ServerBootstrap bootstrap) {
        return EPOLL ? bootstrap.option(io.netty.channel.epoll.EpollChannelOption.IP_FREEBIND, true) : bootstrap;
    }

    static String name() {
        return EPOLL ? "epoll" : "nio (epoll unavailable: " + Epoll.unavailabilityCause() + ")";
    }
}
