package io.baton.forwarding;

import io.baton.config.BalanceMode;
import io.baton.config.ConfigParser;
import io.baton.config.HostPort;
import io.baton.config.Limits;
import io.baton.config.Persistence;
import io.baton.config.PersistenceType;
import io.baton.config.RealServer;
import io.baton.config.SchedulerKind;
import io.baton.config.ServerState;
import io.baton.config.VirtualService;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

class ServicePoolTest {

    private final MutableClock clock = new MutableClock();
    private final PersistenceTable persistence = new PersistenceTable(clock);

    @Test
    void weightedRoundRobinFollowsTheWeightsExactly() throws Exception {
        ServicePool pool = new ServicePool(service(SchedulerKind.WRR, BalanceMode.LOAD_BALANCED, Persistence.NONE,
                server("a", 1), server("b", 3)), persistence);

        Map<String, Integer> picks = pickMany(pool, 400);

        assertThat(picks).containsEntry("a", 100).containsEntry("b", 300);
    }

    @Test
    void roundRobinIgnoresWeights() throws Exception {
        ServicePool pool = new ServicePool(service(SchedulerKind.RR, BalanceMode.LOAD_BALANCED, Persistence.NONE,
                server("a", 1), server("b", 3)), persistence);

        assertThat(pickMany(pool, 400)).containsEntry("a", 200).containsEntry("b", 200);
    }

    @Test
    void leastConnectionsPrefersTheIdlerServer() throws Exception {
        ServicePool pool = new ServicePool(service(SchedulerKind.WLC, BalanceMode.LOAD_BALANCED, Persistence.NONE,
                server("a", 100), server("b", 100)), persistence);
        pool.backend("a").orElseThrow().connectionOpened(new io.netty.channel.embedded.EmbeddedChannel());

        for (int i = 0; i < 5; i++) {
            assertThat(pick(pool, client(1), Set.of()).backend().name()).isEqualTo("b");
        }
    }

    @Test
    void failoverSendsEverythingToTheFirstAvailableServer() throws Exception {
        ServicePool pool = new ServicePool(service(SchedulerKind.WLC, BalanceMode.FAILOVER, Persistence.NONE,
                server("primary", 100), server("standby", 100)), persistence);
        assertThat(pickMany(pool, 50)).containsOnlyKeys("primary");

        pool.backend("primary").orElseThrow().setHealth(Health.DOWN);
        assertThat(pickMany(pool, 50)).containsOnlyKeys("standby");

        pool.backend("primary").orElseThrow().setHealth(Health.UP);
        assertThat(pickMany(pool, 50)).containsOnlyKeys("primary");
    }

    @Test
    void sourceIpPersistenceHoldsUntilItsTimeoutAndSurvivesDrain() throws Exception {
        Persistence sticky = new Persistence(PersistenceType.SOURCE_IP, Duration.ofMinutes(5), 24, null);
        VirtualService config = service(SchedulerKind.RR, BalanceMode.LOAD_BALANCED, sticky, server("a", 1),
                server("b", 1));
        ServicePool pool = new ServicePool(config, persistence);

        Backend first = pick(pool, client(7), Set.of()).backend();
        pool.connected(client(7), first);
        for (int i = 0; i < 10; i++) {
            assertThat(pick(pool, client(7 + i), Set.of()).backend()).isSameAs(first);
        }
        pool.update(withState(config, first.name(), ServerState.DRAIN));
        assertThat(pick(pool, client(7), Set.of()).backend()).as("drain keeps persistent clients").isSameAs(first);

        clock.advance(Duration.ofMinutes(6));
        assertThat(pick(pool, client(7), Set.of()).backend()).as("drained and expired").isNotSameAs(first);
    }

    @Test
    void drainAndHaltTakeNoNewClientsAndHaltClosesConnections() throws Exception {
        VirtualService config = service(SchedulerKind.RR, BalanceMode.LOAD_BALANCED, Persistence.NONE,
                server("a", 1), server("b", 1));
        ServicePool pool = new ServicePool(config, persistence);
        io.netty.channel.embedded.EmbeddedChannel connection = new io.netty.channel.embedded.EmbeddedChannel();
        pool.backend("a").orElseThrow().connectionOpened(connection);

        pool.update(withState(config, "a", ServerState.DRAIN));
        assertThat(pickMany(pool, 20)).containsOnlyKeys("b");
        assertThat(connection.isOpen()).isTrue();

        pool.update(withState(config, "a", ServerState.HALT));
        assertThat(pickMany(pool, 20)).containsOnlyKeys("b");
        assertThat(connection.isOpen()).isFalse();
    }

    @Test
    void redispatchSkipsTriedServersThenFallsBackThenReportsWhy() throws Exception {
        VirtualService base = service(SchedulerKind.RR, BalanceMode.LOAD_BALANCED, Persistence.NONE,
                server("a", 1), server("b", 1));
        VirtualService config = base.withFallback(new HostPort("127.0.0.1", 9999));
        ServicePool pool = new ServicePool(config, persistence);
        Backend a = pool.backend("a").orElseThrow();
        Backend b = pool.backend("b").orElseThrow();

        assertThat(pick(pool, client(1), Set.of(a)).backend()).isSameAs(b);
        Selection spare = pick(pool, client(1), Set.of(a, b));
        assertThat(spare.fallback()).isTrue();
        assertThat(pick(pool, client(1), Set.of(a, b, spare.backend())).reason()).isEqualTo(Selection.Reason.ALL_FAILED);

        a.setHealth(Health.DOWN);
        b.setHealth(Health.DOWN);
        assertThat(pick(pool, client(1), Set.of(spare.backend())).reason())
                .isEqualTo(Selection.Reason.NO_HEALTHY_SERVER);
    }

    @Test
    void maglevKeepsAClientOnOneServer() throws Exception {
        ServicePool pool = new ServicePool(service(SchedulerKind.MAGLEV, BalanceMode.LOAD_BALANCED, Persistence.NONE,
                server("a", 1), server("b", 1), server("c", 1)), persistence);

        for (int c = 0; c < 20; c++) {
            Backend first = pick(pool, client(c), Set.of()).backend();
            assertThat(pick(pool, client(c), Set.of()).backend()).isSameAs(first);
        }
        assertThat(pickDistinctClients(pool, 3000)).hasSize(3);
    }

    @Test
    void aServerAtItsMaximumTakesNoMoreAndWaitersAreServedOldestFirstAsSlotsFree() throws Exception {
        VirtualService base = service(SchedulerKind.RR, BalanceMode.LOAD_BALANCED, Persistence.NONE,
                new RealServer("a", new HostPort("127.0.0.1", 1001), 1, ServerState.ONLINE, 1), server("b", 1));
        ServicePool pool = new ServicePool(withLimits(base, new Limits(100, 2, 2, Duration.ofSeconds(5))), persistence);
        Backend a = pool.backend("a").orElseThrow();
        Backend b = pool.backend("b").orElseThrow();
        List<io.netty.channel.Channel> holders = new java.util.ArrayList<>();
        for (int i = 0; i < 3; i++) { // a's own limit is 1, b has the service's 2
            io.netty.channel.embedded.EmbeddedChannel holder = new io.netty.channel.embedded.EmbeddedChannel();
            assertThat(pool.choose(client(i), Set.of(), holder).found()).isTrue();
            holders.add(holder);
        }
        assertThat(a.activeConnections()).isEqualTo(1);
        assertThat(b.activeConnections()).isEqualTo(2);
        assertThat(pool.choose(client(9), Set.of(), new io.netty.channel.embedded.EmbeddedChannel()).reason())
                .isEqualTo(Selection.Reason.BUSY);

        List<String> woken = new java.util.concurrent.CopyOnWriteArrayList<>();
        ServicePool.Waiter first = new ServicePool.Waiter(Runnable::run, () -> woken.add("first"));
        ServicePool.Waiter second = new ServicePool.Waiter(Runnable::run, () -> woken.add("second"));
        assertThat(pool.await(first)).isTrue();
        assertThat(pool.await(second)).isTrue();
        assertThat(pool.await(new ServicePool.Waiter(Runnable::run, () -> woken.add("third"))))
                .as("the queue holds 2").isFalse();
        assertThat(pool.waiting()).isEqualTo(2);
        assertThat(pool.queueFullTotal()).isEqualTo(1);

        holders.forEach(holder -> pool.backends().forEach(backend -> backend.connectionClosed(holder)));
        assertThat(woken).containsExactly("first", "second");
        assertThat(pool.waiting()).isZero();
        assertThat(pool.leave(first)).as("a woken waiter is no longer queued").isFalse();
    }

    @Test
    void aPersistentClientWaitsForItsOwnServerAndTheFallbackDoesNotStandInForABusyOne() throws Exception {
        Persistence sticky = new Persistence(PersistenceType.SOURCE_IP, Duration.ofMinutes(5), 32, null);
        VirtualService base = service(SchedulerKind.RR, BalanceMode.LOAD_BALANCED, sticky, server("a", 1), server("b", 1))
                .withFallback(new HostPort("127.0.0.1", 9999));
        ServicePool pool = new ServicePool(withLimits(base, new Limits(100, 1, 10, Duration.ofSeconds(5))), persistence);
        io.netty.channel.embedded.EmbeddedChannel mine = new io.netty.channel.embedded.EmbeddedChannel();
        Backend kept = pool.choose(client(1), Set.of(), mine).backend();
        pool.connected(client(1), kept);
        kept.connectionClosed(mine);
        assertThat(kept.reserve(new io.netty.channel.embedded.EmbeddedChannel())).as("another client fills it").isTrue();
        assertThat(pool.choose(client(1), Set.of(), mine).reason()).as("its server is full").isEqualTo(Selection.Reason.BUSY);

        Backend other = pool.backends().stream().filter(backend -> backend != kept).findFirst().orElseThrow();
        assertThat(pool.choose(client(3), Set.of(), new io.netty.channel.embedded.EmbeddedChannel()).backend())
                .isSameAs(other);
        assertThat(pool.choose(client(4), Set.of(), new io.netty.channel.embedded.EmbeddedChannel()).reason())
                .as("all full: wait, no fallback page").isEqualTo(Selection.Reason.BUSY);
    }

    @Test
    void aRaisedLimitWakesTheWaitersAtOnce() throws Exception {
        VirtualService base = service(SchedulerKind.RR, BalanceMode.LOAD_BALANCED, Persistence.NONE, server("a", 1));
        ServicePool pool = new ServicePool(withLimits(base, new Limits(100, 1, 10, Duration.ofSeconds(5))), persistence);
        assertThat(pool.choose(client(1), Set.of(), new io.netty.channel.embedded.EmbeddedChannel()).found()).isTrue();
        List<String> woken = new java.util.concurrent.CopyOnWriteArrayList<>();
        assertThat(pool.await(new ServicePool.Waiter(Runnable::run, () -> woken.add("waiter")))).isTrue();

        pool.update(withLimits(base, new Limits(100, 2, 10, Duration.ofSeconds(5))));

        assertThat(woken).containsExactly("waiter");
    }

    @Test
    void clientsBeyondTheServicesMaximumAreRefusedAndCounted() throws Exception {
        VirtualService base = service(SchedulerKind.RR, BalanceMode.LOAD_BALANCED, Persistence.NONE, server("a", 1));
        ServicePool pool = new ServicePool(withLimits(base, new Limits(2, 100, 10, Duration.ofSeconds(5))), persistence);
        assertThat(pool.admitClient()).isTrue();
        assertThat(pool.admitClient()).isTrue();
        assertThat(pool.admitClient()).isFalse();
        pool.clientLeft();
        assertThat(pool.admitClient()).isTrue();
        assertThat(pool.clients()).isEqualTo(2);
        assertThat(pool.refusedClients()).isEqualTo(1);
    }

    private static VirtualService withLimits(VirtualService service, Limits limits) {
        return new VirtualService(service.name(), service.vip(), service.ports(), service.protocol(), service.mode(),
                service.l7Mode(), service.balance(), service.scheduler(), service.persistence(), service.check(),
                service.timeouts(), service.fallback(), service.natGateway(), service.snatSource(),
                service.forwardedFor(), limits, service.proxyProtocol(), service.tls(), service.servers());
    }

    /** One choice, its slot given back at once (as if the connection had come and gone). */
    private static Selection pick(ServicePool pool, InetAddress client, Set<Backend> tried) {
        io.netty.channel.embedded.EmbeddedChannel holder = new io.netty.channel.embedded.EmbeddedChannel();
        Selection selection = pool.choose(client, tried, holder);
        if (selection.found()) {
            selection.backend().connectionClosed(holder);
        }
        return selection;
    }

    private Map<String, Integer> pickMany(ServicePool pool, int count) throws Exception {
        Map<String, Integer> picks = new HashMap<>();
        for (int i = 0; i < count; i++) {
            picks.merge(pick(pool, client(1), Set.of()).backend().name(), 1, Integer::sum);
        }
        return picks;
    }

    private Map<String, Integer> pickDistinctClients(ServicePool pool, int count) throws Exception {
        Map<String, Integer> picks = new HashMap<>();
        for (int i = 0; i < count; i++) {
            picks.merge(pick(pool, client(i), Set.of()).backend().name(), 1, Integer::sum);
        }
        return picks;
    }

    private static InetAddress client(int n) throws Exception {
        return InetAddress.getByAddress(new byte[] {10, 1, (byte) (n >> 8), (byte) n});
    }

    static RealServer server(String name, int weight) {
        return new RealServer(name, new HostPort("127.0.0.1", 1000 + name.charAt(0)), weight, ServerState.ONLINE);
    }

    static VirtualService service(SchedulerKind scheduler, BalanceMode balance, Persistence persistence,
                                  RealServer... servers) throws Exception {
        VirtualService template = ConfigParser.parse("""
                cluster: { name: c, nodes: [{ id: n, address: 127.0.0.1:7800 }] }
                vips: [{ name: v, address: 127.0.0.100/32, interface: lo }]
                services: [{ name: s, vip: v, ports: [80], mode: l7-snat, servers: [{ name: x, address: 127.0.0.1:1 }] }]
                """, ConfigParser.Format.YAML).services().get(0);
        return new VirtualService("s", "v", List.of(80), "tcp", template.mode(), template.l7Mode(), balance,
                scheduler, persistence, template.check(), template.timeouts(), null, null, null, template.forwardedFor(),
                template.limits(), template.proxyProtocol(), template.tls(), List.of(servers));
    }

    static VirtualService withState(VirtualService config, String server, ServerState state) {
        List<RealServer> servers = config.servers().stream()
                .map(s -> s.name().equals(server) ? s.withState(state) : s)
                .toList();
        return config.withServers(servers);
    }

    /** A clock the test moves by hand. */
    static final class MutableClock extends Clock {

        private Instant now = Instant.parse("2026-01-01T00:00:00Z");

        void advance(Duration duration) {
            now = now.plus(duration);
        }

        @Override
        public java.time.ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }
}
