package io.baton.forwarding;

import io.baton.config.HostPort;
import io.baton.config.RealServer;
import io.baton.config.ServerState;
import io.netty.channel.Channel;

import java.net.InetSocketAddress;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * A real server as the engine runs it: its configuration, its health, and its counters. It
 * outlives config changes that keep its name, so counters and connections carry on.
 */
public final class Backend {

    private volatile RealServer config;
    /** The resolved address when the server has its own port; null otherwise. */
    private volatile InetSocketAddress fixedAddress;
    private volatile Health health = Health.UNKNOWN;
    private final AtomicInteger active = new AtomicInteger();
    private final LongAdder total = new LongAdder();
    private final LongAdder bytesIn = new LongAdder();
    private final LongAdder bytesOut = new LongAdder();
    private final LongAdder errors = new LongAdder();
    /** Client-side channels relayed to this server, so that {@code halt} can close them. */
    private final Set<Channel> connections = ConcurrentHashMap.newKeySet();
    /** Connections it may have at once (its {@code max-connections}, or the service's). */
    private volatile int maxConnections = Integer.MAX_VALUE;
    /** Told when a connection slot frees (the service's queue is served from it). */
    private volatile Runnable freed = () -> { };

    public Backend(RealServer config) {
        update(config);
    }

    public Backend(RealServer config, int maxConnections) {
        update(config, maxConnections);
    }

    public String name() {
        return config.name();
    }

    public RealServer config() {
        return config;
    }

    void update(RealServer newConfig, int newMaxConnections) {
        maxConnections = newMaxConnections;
        update(newConfig);
        freed.run(); // a raised limit frees slots at once
    }

    void whenFreed(Runnable listener) {
        freed = listener;
    }

    public int maxConnections() {
        return maxConnections;
    }

    /** True when every connection slot is taken. */
    public boolean full() {
        return active.get() >= maxConnections;
    }

    /**
     * Takes one connection slot for {@code client} (a client channel holds at most one per server);
     * false when every slot is taken. {@link #connectionClosed} gives it back.
     */
    public boolean reserve(Channel client) {
        int now;
        do {
            now = active.get();
            if (now >= maxConnections) {
                return false;
            }
        } while (!active.compareAndSet(now, now + 1));
        if (!connections.add(client)) {
            active.decrementAndGet(); // it held one already
        }
        return true;
    }

    void update(RealServer newConfig) {
        HostPort address = newConfig.address();
        this.fixedAddress = address.hasPort() ? new InetSocketAddress(address.host(), address.port()) : null;
        this.config = newConfig;
    }

    public int weight() {
        return config.weight();
    }

    public ServerState state() {
        return config.state();
    }

    public Health health() {
        return health;
    }

    public void setHealth(Health health) {
        this.health = health;
    }

    /** May get new connections from the scheduler: online and not known to be down. */
    public boolean acceptsNew() {
        return config.state() == ServerState.ONLINE && health != Health.DOWN;
    }

    /** May keep a persistent client: online or draining, and not known to be down. */
    public boolean acceptsPersistent() {
        return config.state() != ServerState.HALT && health != Health.DOWN;
    }

    /** Where to connect; a server without a port answers on the port the client used. */
    public InetSocketAddress socketAddress(int listenerPort) {
        InetSocketAddress fixed = fixedAddress;
        return fixed != null ? fixed : new InetSocketAddress(config.address().host(), listenerPort);
    }

    public int activeConnections() {
        return active.get();
    }

    public long totalConnections() {
        return total.sum();
    }

    public long bytesIn() {
        return bytesIn.sum();
    }

    public long bytesOut() {
        return bytesOut.sum();
    }

    public long errors() {
        return errors.sum();
    }

    /** A connection for {@code client} is established (its slot taken by {@link #reserve} or now). */
    public void connectionOpened(Channel client) {
        total.increment();
        if (connections.add(client)) {
            active.incrementAndGet();
        }
    }

    /** {@code client}'s connection (or its reserved slot) is given back. */
    public void connectionClosed(Channel client) {
        if (connections.remove(client)) {
            active.decrementAndGet();
            freed.run();
        }
    }

    public void addBytesIn(long bytes) {
        bytesIn.add(bytes);
    }

    public void addBytesOut(long bytes) {
        bytesOut.add(bytes);
    }

    public void countError() {
        errors.increment();
    }

    /** Closes every relayed connection ({@code halt}). */
    void closeConnections() {
        for (Channel channel : connections) {
            channel.close();
        }
    }
}
