package io.baton.forwarding.l7;

import io.baton.config.ConfigParser;
import io.baton.forwarding.PersistenceTable;
import org.junit.jupiter.api.Test;

import java.time.Clock;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A passive engine listens in standby on a VIP this host does not have, so that a takeover binds
 * nothing; on a loopback VIP, which every node has, only the active one listens.
 */
class L7StandbyTest {

    private static final String CONFIG = """
            cluster: { name: t, nodes: [{ id: n1, address: 127.0.0.1:7800 }] }
            vips:
              - { name: remote, address: 192.0.2.77/24, interface: eth0 }
              - { name: local, address: 127.0.0.1/32, interface: lo }
            services:
              - { name: web, vip: remote, ports: [%d], mode: l7-snat, l7: http, servers: [{ name: a, address: 127.0.0.1:9 }] }
              - { name: lo, vip: local, ports: [%d], mode: l7-snat, l7: tcp, servers: [{ name: a, address: 127.0.0.1:9 }] }
            """;

    @Test
    void aPassiveEngineListensInStandbyOnlyOnVipsThisHostDoesNotHave() throws Exception {
        int remotePort = TestServers.freePort();
        int localPort = TestServers.freePort();
        try (L7Engine engine = new L7Engine(new PersistenceTable(Clock.systemUTC()), 1)) {
            engine.setActive(false);
            assertThat(engine.apply(ConfigParser.parse(CONFIG.formatted(remotePort, localPort),
                    ConfigParser.Format.YAML))).isEmpty();

            assertThat(engine.listeners()).extracting(L7Engine.Listener::service).containsExactly("web");
            L7Engine.Listener standby = engine.listeners().get(0);
            assertThat(standby.bound()).isTrue();
            assertThat(standby.address()).isEqualTo("192.0.2.77");

            assertThat(engine.setActive(true)).isEmpty();
            assertThat(engine.listeners()).extracting(L7Engine.Listener::service).containsExactlyInAnyOrder("web", "lo");
            assertThat(engine.listeners()).filteredOn(listener -> listener.service().equals("web"))
                    .singleElement().satisfies(listener -> assertThat(listener.channel()).isSameAs(standby.channel()));

            engine.setActive(false);
            assertThat(engine.listeners()).extracting(L7Engine.Listener::service).containsExactly("web");
        }
    }
}
