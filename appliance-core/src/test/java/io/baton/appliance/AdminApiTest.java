package io.baton.appliance;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.baton.appliance.cli.BatonCli;
import io.baton.config.HostPort;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** A real node in this JVM, its real admin API over real HTTP, and its real store on disk. */
class AdminApiTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path stateDir;

    @TempDir
    Path work;

    private Path example;

    private ApplianceNode node;
    private HostPort admin;

    @BeforeEach
    void startNode() throws Exception {
        example = LoopbackExample.write(work);
        node = start();
        admin = node.adminAddress();
    }

    @AfterEach
    void stopNode() {
        if (node != null) {
            node.close();
        }
    }

    @Test
    void aBadConfigGets422WithEveryErrorAndTheOldRevisionStays() throws Exception {
        String broken = Files.readString(example)
                .replace("weight: 100 }", "wieght: 100 }")
                .replace("127.20.2.32:2575", "127.20.2.300:2575");

        HttpResponse<String> response = TestHttp.send(admin, "PUT", "/api/v1/config", "application/yaml", broken);

        assertThat(response.statusCode()).isEqualTo(422);
        JsonNode errors = JSON.readTree(response.body()).get("errors");
        assertThat(errors.findValuesAsText("path")).contains("services[0].servers[0].wieght",
                "services[2].servers[1].address");
        assertThat(configRevision()).isEqualTo(1);
        assertThat(stateDir.resolve("revision-0000000002.json")).doesNotExist();
    }

    @Test
    void aGoodConfigBumpsTheRevisionAndTheNodeKeepsItAfterARestart() throws Exception {
        String changed = Files.readString(example).replace("priority: 200", "priority: 250");

        HttpResponse<String> response = TestHttp.send(admin, "PUT", "/api/v1/config", "application/yaml", changed);

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(response.body()).get("revision").asLong()).isEqualTo(2);
        node.close();
        node = start();
        admin = node.adminAddress();
        assertThat(configRevision()).isEqualTo(2);
        JsonNode config = JSON.readTree(TestHttp.get(admin, "/api/v1/config").body()).get("config");
        assertThat(config.at("/cluster/nodes/0/priority").asInt()).isEqualTo(250);
    }

    @Test
    void theAppliedConfigCanBeSentBackAsJsonWithoutChangingAnything() throws Exception {
        JsonNode applied = JSON.readTree(TestHttp.get(admin, "/api/v1/config").body()).get("config");

        HttpResponse<String> response = TestHttp.send(admin, "PUT", "/api/v1/config", "application/json",
                applied.toString());

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(response.body()).get("changed").asBoolean()).isFalse();
        assertThat(configRevision()).isEqualTo(1);
    }

    @Test
    void malformedJsonGets400WithTheReason() throws Exception {
        HttpResponse<String> response = TestHttp.send(admin, "PUT", "/api/v1/config", "application/json",
                "{\"cluster\": {\"name\": ");

        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(response.body()).get("error").asText())
                .startsWith("malformed configuration: not valid JSON: line 1");
        assertThat(response.body()).doesNotContain("Exception", "\tat ");
    }

    @Test
    void aConfigThatLeavesThisNodeOutIsRefused() throws Exception {
        String withoutSelf = Files.readString(example).replace("id: lb1", "id: lb3");

        HttpResponse<String> response = TestHttp.send(admin, "PUT", "/api/v1/config", "application/yaml", withoutSelf);

        assertThat(response.statusCode()).isEqualTo(422);
        assertThat(response.body()).contains("this node \\\"lb1\\\" is not listed");
        assertThat(configRevision()).isEqualTo(1);
    }

    @Test
    void aVipOnAnInterfaceThisNodeLacksIsRefused() throws Exception {
        String elsewhere = Files.readString(example).replaceFirst("interface: lo", "interface: nosuch0");

        HttpResponse<String> response = TestHttp.send(admin, "PUT", "/api/v1/config", "application/yaml", elsewhere);

        assertThat(response.statusCode()).isEqualTo(422);
        JsonNode error = JSON.readTree(response.body()).get("errors").get(0);
        assertThat(error.get("path").asText()).isEqualTo("vips[0].interface");
        assertThat(error.get("message").asText()).startsWith("no interface \"nosuch0\" on node lb1 (it has: ")
                .contains("lo");
        assertThat(configRevision()).isEqualTo(1);
    }

    @Test
    void aTlsServiceWhoseKeyIsNotItsCertificatesIsRefusedNamingTheCertificate() throws Exception {
        Path[] one = io.baton.config.TestCertificates.selfSigned(work, "viewer", "DNS:viewer.test", "ec");
        Path[] other = io.baton.config.TestCertificates.selfSigned(work, "other", "DNS:other.test", "ec");
        String mismatched = Files.readString(example).replaceFirst("    mode: l7-snat\n",
                "    mode: l7-snat\n    tls: { certificates: [{ certificate: " + one[0] + ", key: " + other[1] + " }] }\n");

        HttpResponse<String> response = TestHttp.send(admin, "PUT", "/api/v1/config", "application/yaml", mismatched);

        assertThat(response.statusCode()).isEqualTo(422);
        JsonNode error = JSON.readTree(response.body()).get("errors").get(0);
        assertThat(error.get("path").asText()).isEqualTo("services[0].tls.certificates[0]");
        assertThat(error.get("message").asText()).isEqualTo(other[1] + " is not the key of the certificate in " + one[0]
                + " (CN=viewer) (on node lb1)");
        assertThat(configRevision()).isEqualTo(1);

        String matching = mismatched.replace(other[1].toString(), one[1].toString());
        assertThat(TestHttp.send(admin, "PUT", "/api/v1/config", "application/yaml", matching).statusCode())
                .isEqualTo(200);
        assertThat(configRevision()).isEqualTo(2);
    }

    @Test
    void statusAndMetricsShowWhenEachCertificateExpiresAndWarnTwoWeeksAhead() throws Exception {
        Path[] soon = io.baton.config.TestCertificates.selfSigned(work, "viewer", "DNS:viewer.test", "ec", 10);
        String config = Files.readString(example).replaceFirst("    mode: l7-snat\n",
                "    mode: l7-snat\n    tls: { certificates: [{ certificate: " + soon[0] + ", key: " + soon[1] + " }] }\n");
        assertThat(TestHttp.send(admin, "PUT", "/api/v1/config", "application/yaml", config).statusCode()).isEqualTo(200);

        JsonNode service = JSON.readTree(TestHttp.get(admin, "/api/v1/status").body()).get("services").get(0);
        JsonNode certificate = service.get("certificates").get(0);
        assertThat(certificate.get("file").asText()).isEqualTo(soon[0].toString());
        assertThat(certificate.get("names").get(0).asText()).isEqualTo("viewer.test");
        assertThat(certificate.get("daysLeft").asLong()).isBetween(9L, 10L);
        assertThat(certificate.get("warning").asText()).matches("expires in (9|10) day\\(s\\): renew it");
        String metrics = TestHttp.get(admin, "/metrics").body();
        assertThat(metrics).containsPattern("baton_certificate_expiry_timestamp_seconds\\{certificate=\""
                + java.util.regex.Pattern.quote(soon[0].toString()) + "\",service=\"" + service.get("name").asText()
                + "\"} \\d\\.\\d+E9");
    }

    @Test
    void unknownPathsGet404AndWrongMethods405() throws Exception {
        assertThat(TestHttp.get(admin, "/api/v2/everything").statusCode()).isEqualTo(404);
        HttpResponse<String> delete = TestHttp.send(admin, "DELETE", "/api/v1/config", "application/json", "");
        assertThat(delete.statusCode()).isEqualTo(405);
        assertThat(delete.headers().firstValue("Allow")).contains("GET, PUT");
    }

    @Test
    void anOversizedBodyGets413() throws Exception {
        String huge = "x".repeat(5 * 1024 * 1024);

        assertThat(TestHttp.send(admin, "PUT", "/api/v1/config", "application/yaml", huge).statusCode())
                .isEqualTo(413);
        assertThat(TestHttp.get(admin, "/healthz").statusCode()).isEqualTo(200);
    }

    @Test
    void garbageOnTheSocketGets400AndTheNodeCarriesOn() throws Exception {
        try (Socket socket = new Socket(admin.host(), admin.port())) {
            OutputStream out = socket.getOutputStream();
            out.write("THIS IS NOT HTTP\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            String answer = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
            assertThat(answer).startsWith("HTTP/1.1 400").doesNotContain("\tat ");
        }
        assertThat(TestHttp.get(admin, "/healthz").statusCode()).isEqualTo(200);
    }

    @Test
    void healthzAndStatusDescribeTheNode() throws Exception {
        JsonNode health = JSON.readTree(TestHttp.get(admin, "/healthz").body());
        assertThat(health.get("status").asText()).isEqualTo("ok");
        assertThat(health.get("node").asText()).isEqualTo("lb1");

        await().atMost(java.time.Duration.ofSeconds(10)).until(() ->
                JSON.readTree(TestHttp.get(admin, "/api/v1/status").body()).at("/vips/0/holder").asText().equals("lb1"));
        JsonNode status = JSON.readTree(TestHttp.get(admin, "/api/v1/status").body());
        assertThat(status.get("cluster").asText()).isEqualTo("radiology-lb");
        assertThat(status.get("nodes").findValuesAsText("id")).containsExactly("lb1", "lb2");
        assertThat(status.at("/nodes/0/role").asText()).isEqualTo("ACTIVE");
        assertThat(status.at("/nodes/1/role").asText()).isEqualTo("LOST");
        assertThat(status.at("/vips/0/holder").asText()).isEqualTo("lb1");
        assertThat(status.get("warnings").toString()).contains("possible split brain: this node sees 1 of 2 nodes");
        assertThat(status.at("/nodes/0/adminAddress").asText()).isEqualTo(admin.toString());
        assertThat(status.get("services").findValuesAsText("name")).contains("web-viewer", "pacs-dicom", "hl7-mllp",
                "viewer1", "engine-standby");
        assertThat(status.at("/config/revision").asLong()).isEqualTo(1);
    }

    @Test
    void rollbackThroughTheApiRestoresAKeptRevisionAsANewOne() throws Exception {
        String changed = Files.readString(example).replace("priority: 200", "priority: 250");
        TestHttp.send(admin, "PUT", "/api/v1/config", "application/yaml", changed);

        HttpResponse<String> response = TestHttp.send(admin, "POST", "/api/v1/config/rollback", "application/json",
                "{\"revision\": 1}");

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(configRevision()).isEqualTo(3);
        JsonNode config = JSON.readTree(TestHttp.get(admin, "/api/v1/config").body()).get("config");
        assertThat(config.at("/cluster/nodes/0/priority").asInt()).isEqualTo(200);
        assertThat(TestHttp.send(admin, "POST", "/api/v1/config/rollback", "application/json", "{\"revision\": 99}")
                .statusCode()).isEqualTo(404);
        assertThat(TestHttp.send(admin, "POST", "/api/v1/config/rollback", "application/json", "{\"rev\": 1")
                .statusCode()).isEqualTo(400);
    }

    @Test
    void aTruncatedStoreStopsTheNextStartAndRollbackRecovers() throws Exception {
        String changed = Files.readString(example).replace("priority: 200", "priority: 250");
        TestHttp.send(admin, "PUT", "/api/v1/config", "application/yaml", changed);
        node.close();
        node = null;
        Path applied = stateDir.resolve("revision-0000000002.json");
        byte[] bytes = Files.readAllBytes(applied);
        Files.write(applied, Arrays.copyOf(bytes, bytes.length - 40));

        assertThatThrownBy(this::start)
                .isInstanceOf(NodeStartException.class)
                .hasMessageContaining(applied.toString())
                .hasMessageContaining("The last good revision is 1");

        assertThat(BatonCli.run("config", "rollback", "1", "--store", stateDir.toString())).isZero();
        node = start();
        admin = node.adminAddress();
        assertThat(configRevision()).isEqualTo(3);
    }

    private ApplianceNode start() throws NodeStartException {
        return ApplianceNode.start(new NodeOptions(example, "lb1", stateDir, new HostPort("127.0.0.1", 0)));
    }

    private long configRevision() throws Exception {
        return JSON.readTree(TestHttp.get(admin, "/api/v1/config").body()).get("revision").asLong();
    }

    @Test
    void metricsAreExportedInPrometheusTextFormat() throws Exception {
        HttpResponse<String> response = TestHttp.get(admin, "/metrics");

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type").orElseThrow()).startsWith("text/plain; version=0.0.4");
        assertThat(response.body())
                .contains("# TYPE baton_server_connections_total counter")
                .contains("baton_server_connections_total{server=\"viewer1\",service=\"web-viewer\"} 0.0")
                .contains("baton_server_active_connections{server=\"engine-standby\",service=\"hl7-mllp\"} 0.0")
                .contains("baton_server_connections_total{server=\"(fallback)\",service=\"web-viewer\"} 0.0")
                .contains("baton_service_errors_total{service=\"web-viewer\"} 0.0")
                .contains("baton_service_waiting{service=\"web-viewer\"} 0.0")
                .contains("baton_service_queue_full_total{service=\"web-viewer\"} 0.0")
                .contains("baton_service_queue_timeouts_total{service=\"web-viewer\"} 0.0")
                .contains("baton_service_refused_clients_total{service=\"web-viewer\"} 0.0")
                .contains("baton_server_max_connections{server=\"viewer1\",service=\"web-viewer\"} 100.0")
                .contains("baton_refused_clients_total 0.0");
    }

    @Test
    void clusterConnectionsFromStrangersAreRefusedAndCountedInMetrics() throws Exception {
        HostPort cluster = node.applied().config().cluster().node("lb1").orElseThrow().clusterAddress();
        try (java.net.Socket stranger = new java.net.Socket()) {
            stranger.bind(new java.net.InetSocketAddress("127.0.0.3", 0));
            stranger.setSoTimeout(5000);
            try {
                // on loopback the node's reset can beat the end of connect()
                stranger.connect(new java.net.InetSocketAddress(cluster.host(), cluster.port()), 2000);
                assertThat(stranger.getInputStream().read()).as("closed at once").isEqualTo(-1);
            } catch (java.io.IOException reset) {
                // closed at once, with a reset
            }
        }

        await().atMost(java.time.Duration.ofSeconds(5)).untilAsserted(() ->
                assertThat(TestHttp.get(admin, "/metrics").body())
                        .contains("# TYPE baton_cluster_connections_refused_total counter")
                        .contains("baton_cluster_connections_refused_total{reason=\"not-a-node-address\"} 1.0"));
    }

    @Test
    void resolvingADivergenceThatIsNotThereOrWithABadBodyIsRefusedAndChangesNothing() throws Exception {
        for (String body : List.of("{not json", "", "[]", "{\"take\": \"everything\"}", "{\"take\": 1}")) {
            HttpResponse<String> answer = TestHttp.send(admin, "POST", "/api/v1/config/resolve", "application/json",
                    body);
            assertThat(answer.statusCode()).as(body + " -> " + answer.body()).isEqualTo(400);
            assertThat(answer.body()).doesNotContain("Exception");
        }
        HttpResponse<String> notDiverged = TestHttp.send(admin, "POST", "/api/v1/config/resolve", "application/json",
                "{\"take\": \"cluster\"}");
        assertThat(notDiverged.statusCode()).isEqualTo(409);
        assertThat(notDiverged.body()).contains("has not diverged");
        assertThat(TestHttp.send(admin, "GET", "/api/v1/config/resolve", "application/json", "").statusCode())
                .isEqualTo(405);
        assertThat(configRevision()).isEqualTo(1);
    }

    @Test
    void aServerStateIsRuntimeStateThatSurvivesARestartAndAConfigApplyThatSaysSo() throws Exception {
        HttpResponse<String> drained = TestHttp.send(admin, "PUT", "/api/v1/services/web-viewer/servers/viewer1/state",
                "application/json", "{\"state\": \"drain\"}");

        assertThat(drained.statusCode()).as(drained.body()).isEqualTo(200);
        assertThat(JSON.readTree(drained.body()).get("version").asLong()).isEqualTo(1);
        assertThat(configRevision()).as("not a config revision").isEqualTo(1);
        node.close();
        node = start();
        admin = node.adminAddress();
        JsonNode status = JSON.readTree(TestHttp.get(admin, "/api/v1/status").body());
        assertThat(status.at("/services/0/servers/0/state").asText()).isEqualTo("drain");
        assertThat(status.at("/services/0/servers/0/stateSetBy").asText()).startsWith("admin-api by local on lb1 at ");

        // the config file says online (by default): applying a change to it keeps the drain, and says so
        String changed = Files.readString(example).replace("priority: 200", "priority: 250");
        HttpResponse<String> applied = TestHttp.send(admin, "PUT", "/api/v1/config", "application/yaml", changed);
        assertThat(applied.statusCode()).as(applied.body()).isEqualTo(200);
        assertThat(JSON.readTree(applied.body()).get("warnings").toString())
                .contains("web-viewer/viewer1 stays drain").contains("baton online web-viewer viewer1");
        status = JSON.readTree(TestHttp.get(admin, "/api/v1/status").body());
        assertThat(status.at("/services/0/servers/0/state").asText()).isEqualTo("drain");

        assertThat(TestHttp.send(admin, "PUT", "/api/v1/services/web-viewer/servers/nobody/state", "application/json",
                "{\"state\": \"halt\"}").statusCode()).isEqualTo(404);
        assertThat(TestHttp.send(admin, "PUT", "/api/v1/services/web-viewer/servers/viewer1/state", "application/json",
                "{\"state\": \"sleepy\"}").statusCode()).isEqualTo(400);
        assertThat(configRevision()).isEqualTo(2);
    }
}
