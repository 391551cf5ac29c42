package io.baton.forwarding.l7;

import io.baton.config.BatonConfig;
import io.baton.config.ForwardingMode;
import io.baton.config.HostPort;
import io.baton.config.L7Mode;
import io.baton.config.RealServer;
import io.baton.config.ServerState;
import io.baton.config.VipConfig;
import io.baton.config.VirtualService;
import io.baton.forwarding.DataPlane;
import io.baton.forwarding.Health;
import io.baton.forwarding.PersistenceTable;
import io.baton.forwarding.ServicePool;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * The user-space data plane for {@code l7-snat} services: one listener per VIP:port, a
 * {@link ServicePool} per service, and event loops shared by clients and server connections.
 * {@link #apply} reconfigures live: listeners are added and removed, services and servers are
 * updated in place, and established connections of unchanged services carry on.
 */
public final class L7Engine implements DataPlane, AutoCloseable {

    /** Largest request head (request line plus headers) a client may send; more gets 431. */
    public static final int MAX_HEADER_BYTES = 16 * 1024;
    private static final int MAX_LINE_BYTES = 8 * 1024;
    private static final int MAX_CHUNK_BYTES = 64 * 1024;
    private static final int WARM_UP_TIMEOUT_MILLIS = 2000;

    private static final Logger LOG = LogManager.getLogger(L7Engine.class);

    /** A bound listener, or the reason it could not be bound. */
    public record Listener(String service, String address, int port, L7Mode mode, Channel channel, String error) {

        public boolean bound() {
            return channel != null;
        }
    }

    private record ListenerKey(String address, int port) {
    }

    private final EventLoopGroup group;
    /** Every client connection open now (a closed channel leaves the group by itself). */
    private final io.netty.channel.group.ChannelGroup clients =
            new io.netty.channel.group.DefaultChannelGroup(io.netty.util.concurrent.GlobalEventExecutor.INSTANCE);
    private final PersistenceTable persistence;
    private final Map<String, ServicePool> pools = new ConcurrentHashMap<>();
    private final Map<ListenerKey, Listener> listeners = new ConcurrentHashMap<>();
    private final Map<EventLoop, BackendConnections> connections = new ConcurrentHashMap<>();
    /** The TLS each service terminates, rebuilt from its files at every apply; new connections take the current one. */
    private final Map<String, TlsTermination> tls = new ConcurrentHashMap<>();
    private volatile BatonConfig config;
    /** Client connections open on every service together (the config's {@code max-connections}). */
    private final java.util.concurrent.atomic.AtomicInteger clientsOpen = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.atomic.LongAdder refusedClients = new java.util.concurrent.atomic.LongAdder();
    private boolean active = true;
    /** The VIPs are handed over: keep-alive client connections close once idle (see {@link #handingOver}). */
    private volatile boolean handingOver;
    private boolean warmedUp;

    /** @param threads event-loop threads; one per core serves best */
    public L7Engine(PersistenceTable persistence, int threads) {
        this.persistence = persistence;
        this.group = new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory("baton-l7", true),
                Transport.ioHandlerFactory());
        LOG.info("L7 engine: {} event loop(s), {} transport", threads, Transport.name());
    }

    /**
     * Runs the {@code l7-snat} services of {@code config}. Returns one line per listener that
     * could not be bound (the rest run regardless).
     */
    public synchronized List<String> apply(BatonConfig config) {
        this.config = config;
        Map<String, VirtualService> wanted = new HashMap<>();
        Map<ListenerKey, VirtualService> wantedListeners = new HashMap<>();
        for (VirtualService service : config.services()) {
            if (service.mode() != ForwardingMode.L7_SNAT) {
                continue;
            }
            wanted.put(service.name(), service);
            String address = config.vip(service.vip()).map(VipConfig::address).orElseThrow();
            for (int port : service.ports()) {
                if (active || listensInStandby(address)) {
                    wantedListeners.put(new ListenerKey(address, port), service);
                }
            }
        }
        for (Map.Entry<ListenerKey, Listener> entry : List.copyOf(listeners.entrySet())) {
            VirtualService service = wantedListeners.get(entry.getKey());
            Listener listener = entry.getValue();
            if (service == null || !service.name().equals(listener.service()) || service.l7Mode() != listener.mode()
                    || !listener.bound()) {
                close(listener);
                listeners.remove(entry.getKey());
            }
        }
        for (String name : List.copyOf(pools.keySet())) {
            if (!wanted.containsKey(name)) {
                pools.remove(name);
                persistence.forgetService(name);
                LOG.info("service {} removed", name);
            }
        }
        for (VirtualService service : wanted.values()) {
            ServicePool pool = pools.get(service.name());
            // a takeover's setActive applies the very same services: no comparison then (the first equals
            // of a service's records links their methods: 20-30 ms of a graceful hand-over in bench/failover.sh)
            if (pool == null) {
                pools.put(service.name(), new ServicePool(service, persistence));
            } else if (pool.config() != service && !pool.config().equals(service)) {
                pool.update(service);
                LOG.info("service {} updated", service.name());
            }
        }
        List<String> problems = new ArrayList<>();
        for (VirtualService service : wanted.values()) {
            if (service.tls() == null) {
                tls.remove(service.name());
                continue;
            }
            try {
                // read again at every apply: a certificate renewed in its files is served from now on
                TlsTermination termination = TlsTermination.build(service.tls(), java.time.Instant.now());
                tls.put(service.name(), termination);
                for (TlsTermination.Served served : termination.served()) {
                    java.time.Duration left = java.time.Duration.between(java.time.Instant.now(), served.notAfter());
                    if (left.compareTo(java.time.Duration.ofDays(14)) <= 0) {
                        LOG.warn("service {}: the certificate in {} expires in {} day(s), on {}: renew it",
                                service.name(), served.certificateFile(), left.toDays(), served.notAfter());
                    }
                }
            } catch (io.baton.config.PemFiles.Unusable e) {
                String problem = "service " + service.name() + " cannot terminate TLS: " + e.getMessage()
                        + (tls.containsKey(service.name()) ? " (its previous certificates stay in service)" : "");
                LOG.error(problem);
                problems.add(problem);
            }
        }
        tls.keySet().retainAll(wanted.keySet());
        if (!warmedUp) {
            warmedUp = true;
            wanted.values().stream().collect(Collectors.toMap(VirtualService::l7Mode, service -> service,
                    (first, second) -> first)).values().forEach(this::warmUp);
        }
        for (Map.Entry<ListenerKey, VirtualService> entry : wantedListeners.entrySet()) {
            if (listeners.containsKey(entry.getKey())) {
                continue;
            }
            Listener listener = bind(entry.getKey(), entry.getValue());
            listeners.put(entry.getKey(), listener);
            if (!listener.bound()) {
                problems.add(listener.error());
            }
        }
        return problems;
    }

    /**
     * Only the active node serves the VIPs. A passive node keeps its services (and their statistics
     * and health), and keeps listening in standby on the VIPs it does not have
     * ({@link #listensInStandby}), so that a takeover only adds the addresses; it has no listener on
     * loopback VIPs, which every node has. Returns the listeners that could not be bound.
     */
    @Override
    public synchronized List<String> setActive(boolean nowActive) {
        handingOver = false;
        if (nowActive == active) {
            return List.of();
        }
        active = nowActive;
        LOG.info("L7 engine {}", nowActive ? "active: listening on the VIPs"
                : "passive: listening in standby on the VIPs this host does not have, on no loopback VIP");
        return config == null ? List.of() : apply(config);
    }

    public synchronized boolean active() {
        return active;
    }

    /** Idle HTTP client connections close now, the others after their current answer. */
    @Override
    public void handingOver(boolean now) {
        boolean before = handingOver;
        handingOver = now;
        if (now && !before) {
            int idle = 0;
            for (Channel client : clients) {
                ExchangeHandler handler = client.pipeline().get(ExchangeHandler.class);
                if (handler != null) {
                    client.eventLoop().execute(handler::closeIfIdle);
                    idle++;
                }
            }
            LOG.info("L7 engine handing over: {} HTTP client connection(s) close once their answer is sent", idle);
        }
    }

    /** Whether keep-alive client connections close after their answer (the VIPs are handed over). */
    boolean handingOver() {
        return handingOver;
    }

    public Optional<ServicePool> pool(String service) {
        return Optional.ofNullable(pools.get(service));
    }

    public Collection<ServicePool> pools() {
        return pools.values();
    }

    /** The certificates each TLS service serves (file, names, expiry), by service name. */
    public Map<String, List<TlsTermination.Served>> certificates() {
        Map<String, List<TlsTermination.Served>> served = new java.util.TreeMap<>();
        tls.forEach((service, termination) -> served.put(service, termination.served()));
        return served;
    }

    public List<Listener> listeners() {
        return List.copyOf(listeners.values());
    }

    /** A health verdict for one server; DOWN takes it out of rotation for new connections. */
    public void setHealth(String service, String server, Health health) {
        pool(service).flatMap(pool -> pool.backend(server)).ifPresent(backend -> backend.setHealth(health));
    }

    private Listener bind(ListenerKey key, VirtualService service) {
        String name = service.name();
        L7Mode mode = service.l7Mode();
        ServerBootstrap bootstrap = bootstrap(mode, () -> pools.get(name));
        try {
            Channel channel = bootstrap.bind(key.address(), key.port()).sync().channel();
            LOG.info("service {} listening on {}:{} ({})", name, key.address(), key.port(), mode.configName());
            return new Listener(name, key.address(), key.port(), mode, channel, null);
        } catch (Exception e) {
            String error = "service " + name + " cannot listen on " + key.address() + ":" + key.port() + ": "
                    + e.getMessage();
            LOG.error(error);
            return new Listener(name, key.address(), key.port(), mode, null, error);
        }
    }

    /**
     * Whether a passive node listens on {@code address} in standby: where the transport binds to an
     * address this host does not have ({@link Transport#freeBind}), a listener on a VIP that another
     * node holds receives nothing (the kernel delivers only to its own addresses) and costs nothing,
     * and a takeover then serves from the moment the address is added: binding a listener took
     * 16-35 ms of each graceful handover in {@code bench/failover.sh}. Loopback VIPs are local on
     * every node already (and the demo's two nodes share one host): only the active node binds them.
     */
    static boolean listensInStandby(String address) {
        return Transport.EPOLL && !address.startsWith("127.");
    }

    /** Listeners bind to a VIP the host does not have yet where the transport allows it ({@link Transport#freeBind}). */
    @Override
    public boolean startsBeforeTheVipsAreAdded() {
        return Transport.EPOLL;
    }

    private ServerBootstrap bootstrap(L7Mode mode, Supplier<ServicePool> pool) {
        return Transport.freeBind(new ServerBootstrap())
                .group(group)
                .channel(Transport.serverChannel())
                .option(ChannelOption.SO_BACKLOG, 4096)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.AUTO_READ, mode == L7Mode.HTTP)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, mode == L7Mode.TCP)
                .childHandler(initializer(pool, mode));
    }

    /**
     * A JVM's first proxied connection costs tens of milliseconds (Netty's server, the HTTP codecs
     * and the proxy handlers are loaded and initialised). A node pays that here, once, with one
     * request through a throwaway listener on loopback to a throwaway backend, rather than the
     * first client after a takeover.
     */
    private void warmUp(VirtualService template) {
        L7Mode mode = template.l7Mode();
        try (ServerSocket backend = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            backend.setSoTimeout(WARM_UP_TIMEOUT_MILLIS);
            RealServer server = new RealServer("warm-up", new HostPort("127.0.0.1", backend.getLocalPort()),
                    RealServer.DEFAULT_WEIGHT, ServerState.ONLINE);
            // in the clear: the warm-up's client speaks plain HTTP (a TLS service would refuse it)
            VirtualService service = template.withFallback(null).withTls(null).withServers(List.of(server));
            ServicePool pool = new ServicePool(service, new PersistenceTable(Clock.systemUTC()));
            Channel listener = bootstrap(mode, () -> pool).bind("127.0.0.1", 0).sync().channel();
            try (Socket client = new Socket()) {
                client.setSoTimeout(WARM_UP_TIMEOUT_MILLIS);
                client.connect(listener.localAddress(), WARM_UP_TIMEOUT_MILLIS);
                client.getOutputStream().write(
                        "GET / HTTP/1.1\r\nHost: warm-up\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                try (Socket upstream = backend.accept()) {
                    upstream.setSoTimeout(WARM_UP_TIMEOUT_MILLIS);
                    upstream.getInputStream().read(new byte[4096]);
                    upstream.getOutputStream().write(
                            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".getBytes(StandardCharsets.US_ASCII));
                }
                client.getInputStream().readAllBytes();
            } finally {
                listener.close().sync();
            }
            LOG.debug("warmed up the {} proxy path", mode.configName());
        } catch (Exception e) {
            LOG.info("warm-up of the {} proxy path on loopback failed ({}); the first connection after a takeover "
                    + "will be slower", mode.configName(), e.toString());
        }
    }

    /**
     * How both sides' HTTP is decoded: bounded lines and heads, and strict framing (bare CR or LF
     * is no line end; duplicate Content-Length fields are refused; Transfer-Encoding as RFC 9112
     * has it). {@link HttpFraming} judges what the decoder lets through.
     */
    static io.netty.handler.codec.http.HttpDecoderConfig decoderConfig() {
        return new io.netty.handler.codec.http.HttpDecoderConfig()
                .setMaxInitialLineLength(MAX_LINE_BYTES)
                .setMaxHeaderSize(MAX_HEADER_BYTES)
                .setMaxChunkSize(MAX_CHUNK_BYTES)
                .setAllowDuplicateContentLengths(false)
                .setStrictLineParsing(true)
                .setUseRfc9112TransferEncoding(true);
    }

    /**
     * Admits a client connection under the node's and the service's {@code max-connections};
     * returns which limit refused it, or null. Either refusal is counted.
     */
    private String admit(ServicePool pool) {
        BatonConfig current = config;
        int max = current == null ? BatonConfig.DEFAULT_MAX_CONNECTIONS : current.maxConnections();
        int now;
        do {
            now = clientsOpen.get();
            if (now >= max) {
                refusedClients.increment();
                return "this node has " + max + " client connections open (max-connections)";
            }
        } while (!clientsOpen.compareAndSet(now, now + 1));
        if (!pool.admitClient()) {
            clientsOpen.decrementAndGet();
            return "service " + pool.name() + " has " + pool.config().limits().maxConnections()
                    + " client connections open (limits.max-connections)";
        }
        return null;
    }

    /** When a refusal was last logged: a flood is logged once per {@link #REFUSAL_LOG_PERIOD_NANOS}, with its count. */
    private final java.util.concurrent.atomic.AtomicLong refusalLoggedAt = new java.util.concurrent.atomic.AtomicLong(
            System.nanoTime() - REFUSAL_LOG_PERIOD_NANOS);
    private final java.util.concurrent.atomic.AtomicLong refusalsNotLogged = new java.util.concurrent.atomic.AtomicLong();
    private static final long REFUSAL_LOG_PERIOD_NANOS = TimeUnit.SECONDS.toNanos(10);

    /** A client beyond a limit: 503 and closed ({@code http}), or closed at once ({@code tcp}). */
    private void refuse(Channel channel, L7Mode mode, String why) {
        long last = refusalLoggedAt.get();
        long now = System.nanoTime();
        if (now - last >= REFUSAL_LOG_PERIOD_NANOS && refusalLoggedAt.compareAndSet(last, now)) {
            long more = refusalsNotLogged.getAndSet(0);
            LOG.warn("refusing a client connection from {}: {}{}", channel.remoteAddress(), why,
                    more == 0 ? "" : " (and " + more + " more refused in the last 10 s)");
        } else {
            refusalsNotLogged.incrementAndGet();
        }
        if (mode != L7Mode.HTTP) {
            channel.close();
            return;
        }
        byte[] body = ("503 Service Unavailable: too many connections\n").getBytes(StandardCharsets.US_ASCII);
        byte[] head = ("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
                + "Content-Length: " + body.length + "\r\nConnection: close\r\nRetry-After: 1\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII);
        channel.pipeline().addLast("refuse", new io.netty.channel.ChannelInboundHandlerAdapter() {
            @Override
            public void channelActive(io.netty.channel.ChannelHandlerContext ctx) {
                ctx.writeAndFlush(io.netty.buffer.Unpooled.wrappedBuffer(head, body))
                        .addListener(io.netty.channel.ChannelFutureListener.CLOSE);
            }

            @Override
            public void channelRead(io.netty.channel.ChannelHandlerContext ctx, Object msg) {
                io.netty.util.ReferenceCountUtil.release(msg); // whatever it sent is not read
            }
        });
    }

    /** Client connections open now on all services; refused at the node's {@code max-connections}. */
    public int clientsOpen() {
        return clientsOpen.get();
    }

    public long refusedClients() {
        return refusedClients.sum();
    }

    /** The client side's codec: {@link #decoderConfig()} and the head rules of {@link StrictHttpServerCodec}. */
    static StrictHttpServerCodec clientCodec() {
        return new StrictHttpServerCodec(decoderConfig());
    }

    /** The pipeline of one accepted client connection; {@code pool} is looked up per connection. */
    private ChannelInitializer<Channel> initializer(Supplier<ServicePool> currentPool, L7Mode mode) {
        return new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel channel) {
                clients.add(channel);
                ServicePool pool = currentPool.get();
                if (pool == null) {
                    channel.close();
                    return;
                }
                String full = admit(pool);
                if (full != null) {
                    refuse(channel, mode, full);
                    return;
                }
                channel.closeFuture().addListener(closed -> {
                    pool.clientLeft();
                    clientsOpen.decrementAndGet();
                });
                long clientIdle = pool.config().timeouts().clientIdle().toMillis();
                channel.pipeline().addLast("idle", new IdleStateHandler(0, 0, clientIdle, TimeUnit.MILLISECONDS));
                TlsTermination termination = pool.config().tls() == null ? null : tls.get(pool.name());
                if (pool.config().tls() != null) {
                    if (termination == null) {
                        channel.close(); // its certificates could not be read: no clear text where TLS is expected
                        return;
                    }
                    channel.pipeline().addLast("tls", termination.newHandler());
                }
                if (mode == L7Mode.HTTP) {
                    // one job each, in the order a request meets them (see each class)
                    RequestDeadline deadline = new RequestDeadline(pool);
                    channel.pipeline()
                            .addLast("bytes", deadline.byteCounter())
                            .addLast("http", clientCodec())
                            .addLast("deadline", deadline)
                            .addLast("gate", new RequestGate(pool.name()))
                            .addLast("cookie", new PersistenceCookie(pool))
                            .addLast("forwarded", new ForwardedHeaders(pool))
                            .addLast("exchange", new ExchangeHandler(pool, termination,
                                    connections.computeIfAbsent(channel.eventLoop(), loop -> new BackendConnections()),
                                    L7Engine.this::handingOver));
                } else {
                    channel.pipeline().addLast("relay", new TcpFrontendHandler(pool, termination));
                }
            }
        };
    }

    private static void close(Listener listener) {
        if (listener.bound()) {
            listener.channel().close().syncUninterruptibly();
            LOG.info("service {} stopped listening on {}:{}", listener.service(), listener.address(), listener.port());
        }
    }

    /**
     * Waits, at most {@code limit}, until no client connection is open (after a hand-over, before
     * {@link #close}: requests accepted while the VIPs drained finish); returns how many are left.
     */
    public int awaitClientsGone(java.time.Duration limit) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!clients.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        return clients.size();
    }

    /** Stops listening and closes every connection. */
    @Override
    public synchronized void close() {
        listeners.values().forEach(L7Engine::close);
        listeners.clear();
        // the client connections closed while their loops still run: each releases what it holds
        // (a buffered request body) in channelInactive, which a loop shutting down may never run
        clients.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
        pools.clear();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
