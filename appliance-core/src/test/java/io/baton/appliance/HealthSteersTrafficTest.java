package io.baton.appliance;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.baton.config.HostPort;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Health checks and the L7 engine together in one real node: a stopped backend leaves, then returns. */
class HealthSteersTrafficTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path work;

    @Test
    void aStoppedBackendLeavesRotationWithoutFailedRequestsAndReturnsAfterRise() throws Exception {
        TestBackend one = new TestBackend("one");
        int onePort = one.port();
        try (TestBackend two = new TestBackend("two")) {
            int vipPort = TestHttp.freePort();
            Path config = work.resolve("baton.yaml");
            Files.writeString(config, """
                    cluster: { name: t, nodes: [{ id: lb1, address: 127.0.0.1:%d }] }
                    vips: [{ name: v, address: 127.0.0.1/32, interface: lo }]
                    services:
                      - name: web
                        vip: v
                        ports: [%d]
                        mode: l7-snat
                        l7: http
                        scheduler: rr
                        check: { type: http, path: /, interval: 200ms, timeout: 300ms, rise: 2, fall: 2 }
                        servers:
                          - { name: one, address: 127.0.0.1:%d }
                          - { name: two, address: 127.0.0.1:%d }
                    """.formatted(TestHttp.freePort(), vipPort, onePort, two.port()));
            try (ApplianceNode node = ApplianceNode.start(new NodeOptions(config, "lb1", work.resolve("state"),
                    new HostPort("127.0.0.1", 0)))) {
                HostPort admin = node.adminAddress();
                HostPort vip = new HostPort("127.0.0.1", vipPort);
                await().atMost(Duration.ofSeconds(10)).until(() -> health(admin, 0).equals("up")
                        && health(admin, 1).equals("up"));

                Set<String> answered = ConcurrentHashMap.newKeySet();
                AtomicInteger failures = new AtomicInteger();
                AtomicBoolean running = new AtomicBoolean(true);
                Thread client = new Thread(() -> {
                    while (running.get()) {
                        try {
                            HttpResponse<String> response = TestHttp.get(vip, "/");
                            if (response.statusCode() == 200) {
                                answered.add(response.body().strip());
                            } else {
                                failures.incrementAndGet();
                            }
                        } catch (Exception e) {
                            failures.incrementAndGet();
                        }
                    }
                });
                client.start();
                try {
                    await().until(() -> answered.containsAll(Set.of("one", "two")));

                    one.close();
                    // out of rotation within interval × fall + timeout (0.7 s here); the bound leaves
                    // room for a busy machine, the state machine is what is tested
                    await().atMost(Duration.ofSeconds(5)).until(() -> health(admin, 0).equals("down"));
                    JsonNode server = JSON.readTree(TestHttp.get(admin, "/api/v1/status").body())
                            .at("/services/0/servers/0");
                    assertThat(server.get("lastCheck").asText()).startsWith("failed: connection refused at ");

                    answered.clear();
                    one = new TestBackend("one", onePort);
                    await().atMost(Duration.ofSeconds(5)).until(() -> health(admin, 0).equals("up"));
                    await().atMost(Duration.ofSeconds(5)).until(() -> answered.contains("one"));
                } finally {
                    running.set(false);
                    client.join();
                }
                assertThat(failures.get()).as("requests that failed while a backend stopped").isZero();
            }
        } finally {
            one.close();
        }
    }

    @Test
    void serversThatWereDownTakeTrafficAsSoonAsAnApplyRemovesTheirCheck() throws Exception {
        try (TestBackend one = new TestBackend("one"); TestBackend two = new TestBackend("two")) {
            int vipPort = TestHttp.freePort();
            String template = """
                    cluster: { name: t, nodes: [{ id: lb1, address: 127.0.0.1:%d }] }
                    vips: [{ name: v, address: 127.0.0.1/32, interface: lo }]
                    services:
                      - name: web
                        vip: v
                        ports: [%d]
                        mode: l7-snat
                        l7: http
                        scheduler: rr
                        check: %s
                        servers:
                          - { name: one, address: 127.0.0.1:%d }
                          - { name: two, address: 127.0.0.1:%d }
                    """;
            int clusterPort = TestHttp.freePort();
            Path config = work.resolve("baton.yaml");
            // the backends answer 200, the check wants 204: both DOWN, and the service answers 503
            Files.writeString(config, template.formatted(clusterPort, vipPort,
                    "{ type: http, path: /, expect: [204], interval: 200ms, timeout: 300ms, fall: 1 }", one.port(),
                    two.port()));
            try (ApplianceNode node = ApplianceNode.start(new NodeOptions(config, "lb1", work.resolve("state"),
                    new HostPort("127.0.0.1", 0)))) {
                HostPort admin = node.adminAddress();
                HostPort vip = new HostPort("127.0.0.1", vipPort);
                await().atMost(Duration.ofSeconds(10)).until(() -> health(admin, 0).equals("down")
                        && health(admin, 1).equals("down"));
                await().atMost(Duration.ofSeconds(5)).until(() -> TestHttp.get(vip, "/").statusCode() == 503);

                node.apply(io.baton.config.ConfigParser.parse(template.formatted(clusterPort, vipPort,
                        "{ type: none }", one.port(), two.port()), io.baton.config.ConfigParser.Format.YAML), "test");

                Set<String> answered = ConcurrentHashMap.newKeySet();
                for (int i = 0; i < 10; i++) {
                    HttpResponse<String> response = TestHttp.get(vip, "/");
                    assertThat(response.statusCode()).as("request %d after the check was removed", i).isEqualTo(200);
                    answered.add(response.body().strip());
                }
                assertThat(answered).containsExactlyInAnyOrder("one", "two");
            }
        }
    }

    private static String health(HostPort admin, int server) throws Exception {
        return JSON.readTree(TestHttp.get(admin, "/api/v1/status").body())
                .at("/services/0/servers/" + server + "/health").asText();
    }
}
