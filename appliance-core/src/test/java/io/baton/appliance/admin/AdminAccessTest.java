package io.baton.appliance.admin;

import io.baton.appliance.admin.AdminAccess.Admitted;
import io.baton.appliance.admin.AdminAccess.Head;
import io.baton.appliance.admin.AdminAccess.Refused;
import io.baton.appliance.admin.AdminAccess.Verdict;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

class AdminAccessTest {

    private static final String ADMIN = "a".repeat(40);
    private static final String MONITOR = "m".repeat(40);

    private final AdminAccess local = new AdminAccess(null, Set.of());
    private final AdminAccess exposed = new AdminAccess(tokens(), Set.of("lb1.hospital.example"));

    @Test
    void aLoopbackApiWithoutTokensAdmitsTheLocalOperator() {
        Verdict verdict = local.decide(new Head("PUT", AdminApi.CONFIG, "127.0.0.1:9090", null, null,
                "application/yaml", null));
        assertThat(verdict).isEqualTo(new Admitted(AdminTokens.Caller.LOCAL));
    }

    @Test
    void aCrossSiteSimpleRequestIsRefusedWhateverItsBody() {
        // what a page on another site sends without asking first: a text/plain POST from its own Origin
        assertThat(status(local.decide(new Head("POST", AdminApi.FAILOVER, "127.0.0.1:9090", "http://evil.example",
                null, "text/plain", null)))).isEqualTo(403);
        // the same with a JSON type (a browser would ask first, and nothing answers its preflight)
        assertThat(status(local.decide(new Head("POST", AdminApi.FAILOVER, "127.0.0.1:9090", "http://evil.example",
                null, "application/json", null)))).isEqualTo(403);
        assertThat(status(local.decide(new Head("POST", AdminApi.FAILOVER, "127.0.0.1:9090", null, "cross-site",
                "application/json", null)))).isEqualTo(403);
        // a sandboxed page or a file says "null"
        assertThat(status(local.decide(new Head("POST", AdminApi.CONFIG_ROLLBACK, "127.0.0.1:9090", "null", null,
                "application/json", null)))).isEqualTo(403);
        // same host, another port: another origin
        assertThat(status(local.decide(new Head("POST", AdminApi.CONFIG_ROLLBACK, "127.0.0.1:9090",
                "http://127.0.0.1:8080", null, "application/json", null)))).isEqualTo(403);
    }

    @Test
    void theNodesOwnPageMayChangeThings() {
        assertThat(local.decide(new Head("POST", AdminApi.FAILOVER, "127.0.0.1:9090", "http://127.0.0.1:9090",
                "same-origin", "application/json", null))).isInstanceOf(Admitted.class);
    }

    @ParameterizedTest
    @ValueSource(strings = {"evil.example", "evil.example:9090", "127.0.0.1.nip.io", "localhost.evil.example",
            "lb1.hospital.example.evil", "a b", "127.0.0.1:port", "[::1", "[::1]x", "::1", "", "127.0.0.1:",
            "ev\u0000il", "ünicode.example"})
    void aHostThatIsNotTheNodesIsRefusedEvenForReading(String host) {
        Verdict verdict = local.decide(new Head("GET", AdminApi.CONFIG, host, null, null, null, null));
        assertThat(status(verdict)).as(host).isEqualTo(403);
        assertThat(((Refused) verdict).reason()).contains("Host");
    }

    @ParameterizedTest
    @ValueSource(strings = {"127.0.0.1", "127.0.0.1:9090", "localhost:9090", "LOCALHOST", "localhost.", "[::1]:9090",
            "10.1.2.3:9090", "lb1.hospital.example", "LB1.Hospital.Example:9090"})
    void anAddressLocalhostOrAnAllowedNameIsTheNodes(String host) {
        assertThat(exposed.decide(new Head("GET", AdminApi.STATUS, host, null, null, null, "Bearer " + MONITOR)))
                .as(host).isInstanceOf(Admitted.class);
    }

    @Test
    void withTokensEveryRequestButHealthzNeedsOne() {
        assertThat(status(exposed.decide(new Head("GET", AdminApi.STATUS, "10.1.2.3", null, null, null, null))))
                .isEqualTo(401);
        assertThat(status(exposed.decide(new Head("GET", AdminApi.METRICS, "10.1.2.3", null, null, null,
                "Bearer " + "x".repeat(40))))).isEqualTo(401);
        assertThat(status(exposed.decide(new Head("GET", AdminApi.METRICS, "10.1.2.3", null, null, null,
                "Basic " + ADMIN)))).isEqualTo(401);
        assertThat(status(exposed.decide(new Head("GET", AdminApi.METRICS, "10.1.2.3", null, null, null,
                "Bearer")))).isEqualTo(401);
        assertThat(exposed.decide(new Head("GET", AdminApi.HEALTHZ, "10.1.2.3", null, null, null, null)))
                .isInstanceOf(Admitted.class);
        assertThat(exposed.decide(new Head("GET", AdminApi.STATUS, "10.1.2.3", null, null, null, "bearer  " + ADMIN)))
                .isEqualTo(new Admitted(new AdminTokens.Caller("ops", AdminTokens.Role.ADMIN)));
    }

    @Test
    void aReadTokenCannotChangeAnything() {
        Verdict drain = exposed.decide(new Head("PUT", AdminApi.serverStatePath("web", "rs1"), "10.1.2.3", null, null,
                "application/json", "Bearer " + MONITOR));
        assertThat(status(drain)).isEqualTo(403);
        assertThat(((Refused) drain).reason()).contains("\"monitor\" may only read");
        assertThat(exposed.decide(new Head("GET", AdminApi.CONFIG, "10.1.2.3", null, null, null, "Bearer " + MONITOR)))
                .isEqualTo(new Admitted(new AdminTokens.Caller("monitor", AdminTokens.Role.READ)));
    }

    @ParameterizedTest
    @ValueSource(strings = {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
            "application/jsonx", "text/html", "application/json-seq"})
    void aChangeMustBeJsonOrYaml(String type) {
        assertThat(status(local.decide(new Head("PUT", AdminApi.CONFIG, "127.0.0.1", null, null, type, null))))
                .as(type).isEqualTo(415);
        assertThat(status(local.decide(new Head("DELETE", AdminApi.CONFIG, "127.0.0.1", null, null, type, null))))
                .as(type).isEqualTo(415);
    }

    @Test
    void aChangeWithoutABodyTypeIsRefusedButJsonAndYamlPass() {
        assertThat(status(local.decide(new Head("POST", AdminApi.FAILOVER, "127.0.0.1", null, null, null, null))))
                .isEqualTo(415);
        for (String type : new String[]{"application/json", "Application/JSON; charset=utf-8", "application/yaml",
                "application/x-yaml", "text/yaml"}) {
            assertThat(local.decide(new Head("PUT", AdminApi.CONFIG, "127.0.0.1", null, null, type, null)))
                    .as(type).isInstanceOf(Admitted.class);
        }
    }

    @Test
    void onlyLoopbackMayDoWithoutTokens() {
        assertThat(AdminAccess.requireTokens("127.0.0.1", false)).isNull();
        assertThat(AdminAccess.requireTokens("127.0.0.53", false)).isNull();
        assertThat(AdminAccess.requireTokens("localhost", false)).isNull();
        assertThat(AdminAccess.requireTokens("::1", false)).isNull();
        assertThat(AdminAccess.requireTokens("0.0.0.0", false)).contains("--admin-tokens");
        assertThat(AdminAccess.requireTokens("10.0.0.5", false)).contains("--admin-tokens");
        assertThat(AdminAccess.requireTokens("::", false)).contains("--admin-tokens");
        assertThat(AdminAccess.requireTokens("127.evil.example", false)).contains("--admin-tokens");
        assertThat(AdminAccess.requireTokens("0.0.0.0", true)).isNull();
    }

    private static int status(Verdict verdict) {
        assertThat(verdict).isInstanceOf(Refused.class);
        return ((Refused) verdict).status();
    }

    private static AdminTokens tokens() {
        try {
            return AdminTokens.parse("# the node's tokens\nops admin " + ADMIN + "\n\nmonitor read " + MONITOR + "\n",
                    "test");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
