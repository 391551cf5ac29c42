package io.baton.forwarding.l7;

import io.netty.channel.Channel;

import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * Idle keep-alive connections to real servers, for one event loop. Only that loop's thread uses
 * it, and the connections in it are registered on that loop, so a request and its server
 * connection never cross threads.
 */
final class BackendConnections {

    /**
     * Idle connections kept per server and event loop at least; up to the server's own
     * connection limit are kept (as many as can be busy at once: a burst's connections are all
     * reused by the next burst instead of closed and opened again, as HAProxy's unbounded
     * {@code pool-max-conn} keeps them). More are closed.
     */
    static final int MIN_IDLE_PER_SERVER = 128;

    private final Map<InetSocketAddress, ArrayDeque<Channel>> idle = new HashMap<>();

    /** An open idle connection to {@code server}, or null. */
    Channel acquire(InetSocketAddress server) {
        ArrayDeque<Channel> channels = idle.get(server);
        while (channels != null && !channels.isEmpty()) {
            Channel channel = channels.pollLast();
            if (channel.isActive()) {
                return channel;
            }
        }
        return null;
    }

    /** Keeps {@code channel} for the next request to {@code server}, which may have {@code maxConnections} at once. */
    void release(InetSocketAddress server, Channel channel, int maxConnections) {
        ArrayDeque<Channel> channels = idle.computeIfAbsent(server, key -> new ArrayDeque<>());
        if (channels.size() >= Math.max(MIN_IDLE_PER_SERVER, maxConnections) || !channel.isActive()) {
            channel.close();
            return;
        }
        // keep reading while idle, so that a server closing the connection is noticed at once
        channel.config().setAutoRead(true);
        channels.addLast(channel);
    }

    /** Closes every idle connection (a client's own, when the client leaves). */
    void closeAll() {
        java.util.List<Channel> open = new java.util.ArrayList<>();
        idle.values().forEach(open::addAll);
        idle.clear();
        open.forEach(Channel::close);
    }

    void remove(InetSocketAddress server, Channel channel) {
        ArrayDeque<Channel> channels = idle.get(server);
        if (channels != null) {
            channels.remove(channel);
        }
    }
}
