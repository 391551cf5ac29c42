package io.baton.health;

import io.baton.config.BatonConfig;
import io.baton.config.ConfigParser;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class HealthMonitorTest {

    private final Peers peers = new Peers();
    private final Map<String, HealthState> states = new ConcurrentHashMap<>();
    private final List<String> transitions = new CopyOnWriteArrayList<>();
    private final HealthMonitor monitor = new HealthMonitor((service, server, state, result) -> {
        states.put(service + "/" + server, state);
        transitions.add(service + "/" + server + " " + state + ": " + result.reason());
    });

    @AfterEach
    void stop() throws Exception {
        monitor.close();
        peers.close();
    }

    @Test
    void riseAndFallDecideUpAndDownAndEachTransitionIsReportedOnce() throws Exception {
        int open = peers.tcp(null);
        int closed = Peers.freePort();
        monitor.apply(config("{ type: connect, interval: 100ms, timeout: 500ms, rise: 2, fall: 3 }", open, closed));

        await().atMost(Duration.ofSeconds(5)).until(() -> states.size() == 2);
        assertThat(states).containsEntry("web/a", HealthState.UP).containsEntry("web/b", HealthState.DOWN);
        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(2)).until(() -> transitions.size() == 2);
        assertThat(transitions).containsExactlyInAnyOrder("web/a UP: connected to port " + open,
                "web/b DOWN: connection refused");
        HealthMonitor.ServerHealth b = monitor.health("web", "b").orElseThrow();
        assertThat(b.state()).isEqualTo(HealthState.DOWN);
        assertThat(b.last().reason()).isEqualTo("connection refused");
    }

    @Test
    void hungServersDoNotDelayTheChecksOfOthers() throws Exception {
        int http = peers.http();
        StringBuilder servers = new StringBuilder();
        for (int i = 0; i < 40; i++) {
            servers.append("      - { name: hung").append(i).append(", address: 127.0.0.1:").append(http).append(" }\n");
        }
        String yaml = """
                cluster: { name: t, nodes: [{ id: n, address: 127.0.0.1:7800 }] }
                vips: [{ name: v, address: 127.0.0.100/32, interface: lo }]
                services:
                  - name: slow
                    vip: v
                    ports: [80]
                    mode: l7-snat
                    check: { type: http, path: /hang, interval: 200ms, timeout: 5s, rise: 1, fall: 1 }
                    servers:
                %s
                  - name: web
                    vip: v
                    ports: [81]
                    mode: l7-snat
                    check: { type: http, path: /ok, interval: 100ms, timeout: 500ms, rise: 3, fall: 1 }
                    servers:
                      - { name: good, address: 127.0.0.1:%d }
                """.formatted(servers, http);
        monitor.apply(ConfigParser.parse(yaml, ConfigParser.Format.YAML));

        // three good checks 100 ms apart (about 0.3 s), while 40 servers each hold a check for 5 s:
        // had the good server waited behind them, it could not be UP before 5 s
        await().atMost(Duration.ofMillis(4000)).until(() -> states.get("web/good") == HealthState.UP);
    }

    @Test
    void applyingAConfigRestartsOnlyTheChecksThatChanged() throws Exception {
        int open = peers.tcp(null);
        int other = peers.tcp(null);
        monitor.apply(config("{ type: connect, interval: 100ms, rise: 1 }", open, other));
        await().until(() -> states.size() == 2);
        HealthMonitor.ServerHealth before = monitor.health("web", "a").orElseThrow();

        monitor.apply(config("{ type: connect, interval: 100ms, rise: 1 }", open, other));
        assertThat(monitor.health("web", "a").orElseThrow().state()).isEqualTo(HealthState.UP);

        monitor.apply(config("{ type: connect, interval: 100ms, rise: 1, port: " + other + " }", open, other));
        assertThat(monitor.health("web", "a").orElseThrow().state()).isEqualTo(HealthState.UNKNOWN);
        assertThat(before.state()).isEqualTo(HealthState.UP);
    }

    private static BatonConfig config(String check, int portA, int portB) throws Exception {
        return ConfigParser.parse("""
                cluster: { name: t, nodes: [{ id: n, address: 127.0.0.1:7800 }] }
                vips: [{ name: v, address: 127.0.0.100/32, interface: lo }]
                services:
                  - name: web
                    vip: v
                    ports: [80]
                    mode: l7-snat
                    check: %s
                    servers:
                      - { name: a, address: 127.0.0.1:%d }
                      - { name: b, address: 127.0.0.1:%d }
                """.formatted(check, portA, portB), ConfigParser.Format.YAML);
    }
}
