package io.baton.config;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ConfigParserTest {

    static final Path EXAMPLE = Path.of("..", "examples", "pacs.yaml");

    private static final String MINIMAL = """
            cluster:
              name: c
              nodes: [{ id: lb1, address: 10.0.0.1:7800 }]
            vips: [{ name: v, address: 10.0.0.100/24, interface: eth0 }]
            services:
              - name: web
                vip: v
                ports: [80]
                mode: l7-snat
                servers: [{ name: s1, address: 10.0.1.1:8080 }]
            """;

    @Test
    void examplePacsConfigIsValidAndCoversTheHospitalServices() throws Exception {
        BatonConfig config = ConfigParser.parseFile(EXAMPLE);

        assertThat(config.cluster().nodes()).extracting(NodeConfig::id).containsExactly("lb1", "lb2");
        assertThat(config.services()).flatExtracting(VirtualService::ports).contains(443, 104, 11112, 2575);
        assertThat(config.services()).extracting(VirtualService::balance).contains(BalanceMode.FAILOVER);
        VirtualService dicom = config.service("pacs-dicom").orElseThrow();
        assertThat(dicom.mode()).isEqualTo(ForwardingMode.L4_DR);
        assertThat(dicom.check().calledAeTitle()).isEqualTo("PACS");
    }

    @Test
    void theShippedComposeConfigIsValid() throws Exception {
        BatonConfig config = ConfigParser.parseFile(Path.of("..", "packaging", "compose", "baton.yaml"));

        assertThat(config.cluster().nodes()).hasSize(2);
        assertThat(config.cluster().witness()).isNotNull();
    }

    @Test
    void defaultsAreThoseAnOperatorExpects() throws Exception {
        VirtualService web = ConfigParser.parse(MINIMAL, ConfigParser.Format.YAML).services().get(0);

        assertThat(web.l7Mode()).isEqualTo(L7Mode.TCP);
        assertThat(web.balance()).isEqualTo(BalanceMode.LOAD_BALANCED);
        assertThat(web.scheduler()).isEqualTo(SchedulerKind.WLC);
        assertThat(web.check()).isEqualTo(HealthCheck.connect());
        assertThat(web.check().interval()).isEqualTo(Duration.ofSeconds(2));
        assertThat(web.timeouts().clientIdle()).isEqualTo(Duration.ofHours(1));
        assertThat(web.servers().get(0).weight()).isEqualTo(100);
        assertThat(web.servers().get(0).state()).isEqualTo(ServerState.ONLINE);
        assertThat(web.forwardedFor()).isEqualTo(ForwardedFor.APPEND);
    }

    @Test
    void forwardedForIsAnHttpServicesChoice() throws Exception {
        String http = MINIMAL.replace("    mode: l7-snat\n", "    mode: l7-snat\n    l7: http\n    forwarded-for: replace\n");
        assertThat(ConfigParser.parse(http, ConfigParser.Format.YAML).services().get(0).forwardedFor())
                .isEqualTo(ForwardedFor.REPLACE);
        assertThat(errorsOf(MINIMAL.replace("    mode: l7-snat\n", "    mode: l7-snat\n    forwarded-for: replace\n")))
                .containsExactly("services[0].forwarded-for: only applies to mode l7-snat with l7: http");
        assertThat(errorsOf(http.replace("forwarded-for: replace", "forwarded-for: trust")))
                .containsExactly("services[0].forwarded-for: \"trust\" is not one of append|replace");
    }

    @Test
    void unknownKeyAndInvalidAddressAreBothReportedWithTheirPaths() throws Exception {
        String broken = Files.readString(EXAMPLE)
                .replace("address: 10.20.1.21:443, weight: 100", "address: 10.20.1.21:443, wieght: 100")
                .replace("10.20.2.32:2575", "10.20.2.300:2575");

        List<String> errors = errorsOf(broken);

        assertThat(errors).containsExactlyInAnyOrder(
                "services[0].servers[0].wieght: unknown key (did you mean \"weight\"?)",
                "services[2].servers[1].address: \"10.20.2.300:2575\" is not an IPv4 address:port");
    }

    @Test
    void everyCrossFieldRuleIsCheckedInOnePass() {
        String config = """
                cluster:
                  name: c
                  nodes:
                    - { id: lb1, address: 10.0.0.1:7800 }
                    - { id: lb1, address: 10.0.0.2:7800 }
                vips: [{ name: v, address: 10.0.0.100/24, interface: eth0 }]
                services:
                  - name: web
                    vip: nowhere
                    ports: [80]
                    mode: l7-snat
                    servers: [{ name: s1, address: 10.0.1.1:8080 }]
                  - name: dicom
                    vip: v
                    ports: [104]
                    mode: l4-dr
                    servers:
                      - { name: s1, address: 10.0.1.1:11112, weight: -1 }
                      - { name: s1, address: 10.0.1.2:104 }
                  - name: dicom
                    vip: v
                    ports: [104]
                    mode: l4-nat
                    scheduler: rr
                    servers: []
                """;

        assertThat(errorsOf(config)).containsExactlyInAnyOrder(
                "cluster.nodes[1].id: duplicate node id \"lb1\" (first used at cluster.nodes[0])",
                KEYLESS_PAIR,
                "services[2].name: duplicate service name \"dicom\" (first used at services[1])",
                "services[0].vip: \"nowhere\" is not a VIP defined under vips (defined: v)",
                "services[1].servers[0].weight: -1 is out of range 0..65535",
                "services[1].servers[1].name: duplicate server name \"s1\" (first used at services[1].servers[0])",
                "services[1].servers[0].address: l4-dr cannot map ports: real-server port 11112 must equal the"
                        + " service port 104 (the real server answers on the VIP itself)",
                "services[2].servers: must list at least one entry",
                "services[2].ports: VIP 10.0.0.100:104 is already used by service \"dicom\"",
                "services[2].scheduler: \"rr\" is user-space only: l4-nat runs in the kernel and schedules with maglev",
                "services[2].nat-gateway: l4-nat needs the VIP that the real servers use as their gateway (a floating"
                        + " address on the server-side interface), so that replies come back through the active node");
    }

    private static final String KEYLESS_PAIR = "cluster.key-file: a cluster of 2 nodes must have a shared key, or"
            + " anyone who reaches a cluster port could join it: make one with `baton keygen /etc/baton/cluster.key`,"
            + " copy it to every node and name it here";

    @Test
    void aClusterOfMoreThanOneNodeWithoutAKeyIsRefusedNamingTheKeyFile() throws Exception {
        String pair = MINIMAL.replace("nodes: [{ id: lb1, address: 10.0.0.1:7800 }]",
                "nodes: [{ id: lb1, address: 10.0.0.1:7800 }, { id: lb2, address: 10.0.0.2:7800 }]");

        assertThat(errorsOf(pair)).containsExactly(KEYLESS_PAIR);
        assertThat(ConfigParser.parse(pair.replace("  nodes:", "  key-file: /etc/baton/cluster.key\n  nodes:"),
                ConfigParser.Format.YAML).cluster().keyFile()).isEqualTo("/etc/baton/cluster.key");
        assertThat(ConfigParser.parse(MINIMAL, ConfigParser.Format.YAML).cluster().keyFile())
                .as("one node alone needs no shared key").isNull();
    }

    @Test
    void typesRangesAndChoicesAreReportedPlainly() {
        String config = MINIMAL
                .replace("ports: [80]", "ports: [80, 70000]\n    mode: l7-snat\n    balance: sideways\n"
                        + "    check: { type: connect, interval: 2, path: /x }")
                .replace("    mode: l7-snat\n    servers", "    servers")
                .replace("address: 10.0.0.100/24", "address: 10.0.0.100/33");

        assertThat(errorsOf(config)).containsExactlyInAnyOrder(
                "vips[0].address: \"10.0.0.100/33\" is not an IPv4 address/prefix (e.g. 10.20.0.100/24)",
                "services[0].ports[1]: 70000 is out of range 1..65535",
                "services[0].balance: \"sideways\" is not one of load-balanced|failover",
                "services[0].check.interval: 2 is not a duration: give a unit, e.g. 500ms, 2s, 30m, 1h",
                "services[0].check.path: only applies to http/https checks");
    }

    @Test
    void anHl7CheckNeedsNothingButItsTypeAndItsHeaderFieldsCannotBreakTheSegment() throws Exception {
        HealthCheck defaults = ConfigParser.parse(MINIMAL.replace("    servers:", "    check: { type: hl7 }\n    servers:"),
                ConfigParser.Format.YAML).services().get(0).check();
        assertThat(defaults.hl7()).isEqualTo(new Hl7Probe("BATON", null, null, null, "NMD^N02", "P", "2.5", List.of("AA")));
        assertThat(defaults.callingAeTitle()).isNull();
        HealthCheck find = ConfigParser.parse(MINIMAL.replace("    servers:", "    check: { type: dicom-find }\n    servers:"),
                ConfigParser.Format.YAML).services().get(0).check();
        assertThat(List.of(find.callingAeTitle(), find.calledAeTitle())).containsExactly("BATON", "ANY-SCP");
        assertThat(find.hl7()).isNull();

        String broken = MINIMAL.replace("    servers:", "    check: { type: hl7, sending-application: 'A|B',"
                + " receiving-facility: 'x^y', message-type: 'adt a01', processing-id: X, hl7-version: '3.0',"
                + " expect-ack: [AA, OK], called-ae: PACS }\n    servers:");
        assertThat(errorsOf(broken)).containsExactlyInAnyOrder(
                "services[0].check.sending-application: \"A|B\" is not an HL7 field value (1-180 printable characters,"
                        + " none of | ^ ~ \\ &)",
                "services[0].check.receiving-facility: \"x^y\" is not an HL7 field value (1-180 printable characters,"
                        + " none of | ^ ~ \\ &)",
                "services[0].check.message-type: \"adt a01\" is not an HL7 message type (e.g. NMD^N02, ADT^A01):"
                        + " letters and digits, components joined by ^",
                "services[0].check.processing-id: \"X\" is not an HL7 processing ID (P production, T training, D debugging)",
                "services[0].check.hl7-version: \"3.0\" is not an HL7 v2 version (2.1 to 2.9, e.g. 2.5 or 2.5.1)",
                "services[0].check.expect-ack: \"OK\" is not an HL7 acknowledgement code (one of AA, AE, AR, CA, CE, CR)",
                "services[0].check.called-ae: only applies to dicom-echo/dicom-find checks");
        assertThat(errorsOf(MINIMAL.replace("    servers:", "    check: { type: http, message-type: 'ADT^A01' }\n    servers:")))
                .containsExactly("services[0].check.message-type: only applies to hl7 checks");
    }

    @Test
    void proxyProtocolIsOffByDefaultAndOnlyForTheL7Engine() throws Exception {
        BatonConfig off = ConfigParser.parse(MINIMAL, ConfigParser.Format.YAML);
        assertThat(off.services().get(0).proxyProtocol()).isEqualTo(ProxyProtocol.NONE);
        assertThat(ConfigWriter.toJson(off)).as("the default is not written: old checksums stay").doesNotContain("proxy");

        BatonConfig on = ConfigParser.parse(MINIMAL.replace("    mode: l7-snat\n", "    mode: l7-snat\n    proxy-protocol: v2\n"),
                ConfigParser.Format.YAML);
        assertThat(on.services().get(0).proxyProtocol()).isEqualTo(ProxyProtocol.V2);
        assertThat(ConfigParser.parse(ConfigWriter.toJson(on), ConfigParser.Format.JSON)).isEqualTo(on);

        assertThat(errorsOf(MINIMAL.replace("    mode: l7-snat\n", "    mode: l7-snat\n    proxy-protocol: v1\n")))
                .containsExactly("services[0].proxy-protocol: \"v1\" is not one of none|v2");
        assertThat(errorsOf(MINIMAL.replace("    mode: l7-snat\n", "    mode: l4-dr\n    proxy-protocol: v2\n")
                .replace("10.0.1.1:8080", "10.0.0.21")))
                .containsExactly("services[0].proxy-protocol: only applies to mode l7-snat (the kernel modes forward"
                        + " packets: they add nothing to the stream)");
    }

    @Test
    void tlsNamesItsFilesByAbsolutePathsAndReadsBack() throws Exception {
        String tls = MINIMAL.replace("    mode: l7-snat\n", "    mode: l7-snat\n    tls:\n      certificates:\n"
                + "        - { certificate: /etc/baton/tls/viewer.pem, key: /etc/baton/tls/viewer.key }\n"
                + "      client-ca: /etc/baton/tls/ca.pem\n");
        BatonConfig config = ConfigParser.parse(tls, ConfigParser.Format.YAML);
        assertThat(config.services().get(0).tls()).isEqualTo(new TlsSettings(List.of(new TlsSettings.CertificateFiles(
                "/etc/baton/tls/viewer.pem", "/etc/baton/tls/viewer.key")), "/etc/baton/tls/ca.pem", null));
        assertThat(ConfigParser.parse(ConfigWriter.toJson(config), ConfigParser.Format.JSON)).isEqualTo(config);
        assertThat(ConfigParser.parse(MINIMAL, ConfigParser.Format.YAML).services().get(0).tls()).isNull();

        assertThat(errorsOf(MINIMAL.replace("    mode: l7-snat\n", "    mode: l7-snat\n"
                + "    tls: { certificates: [{ certificate: viewer.pem }], clientca: /x }\n"))).containsExactlyInAnyOrder(
                "services[0].tls.certificates[0].certificate: \"viewer.pem\" must be an absolute path"
                        + " (e.g. /etc/baton/tls/viewer.pem)",
                "services[0].tls.certificates[0].key: is required",
                "services[0].tls.clientca: unknown key (did you mean \"client-ca\"?)");
        BatonConfig reencrypting = ConfigParser.parse(tls.replace("      client-ca: /etc/baton/tls/ca.pem\n",
                "      to-servers: { ca: /etc/baton/tls/servers-ca.pem }\n"), ConfigParser.Format.YAML);
        assertThat(reencrypting.services().get(0).tls().toServers())
                .isEqualTo(new TlsSettings.ToServers(true, "/etc/baton/tls/servers-ca.pem"));
        assertThat(ConfigParser.parse(ConfigWriter.toJson(reencrypting), ConfigParser.Format.JSON)).isEqualTo(reencrypting);
        assertThat(errorsOf(tls.replace("      client-ca: /etc/baton/tls/ca.pem\n",
                "      to-servers: { verify: false, ca: /etc/baton/tls/servers-ca.pem }\n")))
                .containsExactly("services[0].tls.to-servers.ca: is not used with verify: false (the servers'"
                        + " certificates are not checked)");
        assertThat(errorsOf(MINIMAL.replace("    mode: l7-snat\n", "    mode: l7-snat\n    tls: { certificates: [] }\n")))
                .containsExactly("services[0].tls.certificates: must list at least one entry");
        assertThat(errorsOf(MINIMAL.replace("    mode: l7-snat\n", "    mode: l4-dr\n"
                + "    tls: { certificates: [{ certificate: /a.pem, key: /a.key }] }\n").replace("10.0.1.1:8080", "10.0.0.21")))
                .containsExactly("services[0].tls: only applies to mode l7-snat (the kernel modes forward packets: TLS"
                        + " passes through)");
    }

    @Test
    void kernelServicesWhoseNftNamesWouldCollideAreRefusedWithBothPaths() {
        String config = """
                cluster: { name: c, nodes: [{ id: lb1, address: 10.0.0.1:7800 }] }
                vips:
                  - { name: front, address: 10.0.0.100/24, interface: eth0.100 }
                  - { name: other, address: 10.0.1.100/24, interface: eth0_100 }
                services:
                  - { name: pacs.a, vip: front, ports: [104], mode: l4-dr, servers: [{ name: rs1, address: 10.0.0.21 }] }
                  - { name: pacs_a, vip: other, ports: [104], mode: l4-dr, servers: [{ name: rs1, address: 10.0.1.21 }] }
                  - { name: web, vip: front, ports: [80], mode: l4-dr, servers: [{ name: a.b, address: 10.0.0.22 },
                      { name: a-b, address: 10.0.0.23 }] }
                  - { name: viewer, vip: front, ports: [81], mode: l7-snat,
                      servers: [{ name: a.b, address: 10.0.0.24 }, { name: a-b, address: 10.0.0.25 }] }
                """;

        assertThat(errorsOf(config)).containsExactlyInAnyOrder(
                "services[1].servers[0].name: service \"pacs_a\" server \"rs1\" would have the nftables counter"
                        + " \"pacs_a__rs1\" of services[0].servers[0]: nft names keep letters, digits and _ only (other"
                        + " characters become _, and the service and server are joined by __); rename one",
                "services[1].vip: interface eth0_100 would have the nftables chain \"ingress_eth0_100\" of interface"
                        + " eth0.100 (services[0].vip): nft names keep letters, digits and _ only",
                "services[2].servers[1].name: service \"web\" server \"a-b\" would have the nftables counter"
                        + " \"web__a_b\" of services[2].servers[0]: nft names keep letters, digits and _ only (other"
                        + " characters become _, and the service and server are joined by __); rename one");
    }

    @Test
    void missingSectionsAreRequired() {
        assertThat(errorsOf("cluster: { name: c, nodes: [] }\n")).containsExactlyInAnyOrder(
                "cluster.nodes: must list at least one entry",
                "vips: is required",
                "services: is required");
    }

    @Test
    void malformedDocumentSaysWhereItBroke() {
        assertThatThrownBy(() -> ConfigParser.parse("cluster: [\n  name: x", ConfigParser.Format.YAML))
                .isInstanceOf(MalformedConfigException.class)
                .hasMessageContaining("line");
        assertThatThrownBy(() -> ConfigParser.parse("{\"cluster\": ", ConfigParser.Format.JSON))
                .isInstanceOf(MalformedConfigException.class)
                .hasMessageStartingWith("not valid JSON");
        assertThatThrownBy(() -> ConfigParser.parse("", ConfigParser.Format.YAML))
                .isInstanceOf(MalformedConfigException.class)
                .hasMessage("the document is empty");
    }

    @Test
    void duplicateKeysAreRejectedRatherThanSilentlyOverwritten() {
        assertThatThrownBy(() -> ConfigParser.parse(MINIMAL + "vips: []\n", ConfigParser.Format.YAML))
                .isInstanceOf(MalformedConfigException.class)
                .hasMessageContaining("Duplicate field 'vips'");
    }

    @Test
    void canonicalJsonReadsBackToTheSameConfigAndChecksum() throws Exception {
        BatonConfig config = ConfigParser.parseFile(EXAMPLE);

        String json = ConfigWriter.toJson(config);
        BatonConfig again = ConfigParser.parse(json, ConfigParser.Format.JSON);

        assertThat(again).isEqualTo(config);
        assertThat(ConfigWriter.toJson(again)).isEqualTo(json);
        assertThat(ConfigWriter.checksum(again)).isEqualTo(ConfigWriter.checksum(config)).startsWith("sha256:");
    }

    @Test
    void limitsHaveDefaultsThatProtectASmallServerAndReadBackWhenSet() throws Exception {
        BatonConfig defaults = ConfigParser.parse(MINIMAL, ConfigParser.Format.YAML);
        assertThat(defaults.maxConnections()).isEqualTo(10_000);
        assertThat(defaults.services().get(0).limits()).isEqualTo(new Limits(2000, 100, 200, Duration.ofSeconds(5)));
        assertThat(ConfigWriter.toJson(defaults)).as("defaults are not written: old checksums stay")
                .doesNotContain("limits", "max-connections", "forwarded-for", "http-body", "request-buffer");

        String set = MINIMAL.replace("    mode: l7-snat\n",
                        "    mode: l7-snat\n    limits: { max-connections: 50, server-max-connections: 4, queue: 0, queue-timeout: 2s,"
                                + " request-buffer: 0 }\n    timeouts: { http-body: 3s }\n")
                .replace("address: 10.0.1.1:8080 }", "address: 10.0.1.1:8080, max-connections: 9 }")
                + "max-connections: 300\n";
        BatonConfig config = ConfigParser.parse(set, ConfigParser.Format.YAML);
        VirtualService web = config.services().get(0);
        assertThat(config.maxConnections()).isEqualTo(300);
        assertThat(web.limits()).isEqualTo(new Limits(50, 4, 0, Duration.ofSeconds(2), 0));
        assertThat(web.timeouts().httpBody()).isEqualTo(Duration.ofSeconds(3));
        assertThat(defaults.services().get(0).timeouts().httpBody()).isEqualTo(Duration.ofSeconds(10));
        assertThat(defaults.services().get(0).limits().requestBuffer()).isEqualTo(64 * 1024);
        assertThat(web.limits().forServer(web.servers().get(0))).isEqualTo(9);
        assertThat(ConfigParser.parse(ConfigWriter.toJson(config), ConfigParser.Format.JSON)).isEqualTo(config);
    }

    @Test
    void limitsAreCheckedAndRefusedWhereNothingCountsConnections() {
        String bad = MINIMAL.replace("    mode: l7-snat\n",
                "    mode: l7-snat\n    limits: { max-connections: 0, queue: -1, queue-timeout: 0s, burst: 3 }\n")
                + "max-connections: many\n";
        assertThat(errorsOf(bad)).containsExactlyInAnyOrder(
                "services[0].limits.max-connections: 0 is out of range 1..1000000",
                "services[0].limits.queue: -1 is out of range 0..1000000",
                "services[0].limits.queue-timeout: must be longer than 0",
                "services[0].limits.burst: unknown key (expected one of max-connections, server-max-connections, "
                        + "queue, queue-timeout, request-buffer)",
                "max-connections: must be a whole number, not the string \"many\"");
        String kernel = MINIMAL.replace("    mode: l7-snat\n", "    mode: l4-dr\n    limits: { queue: 5 }\n")
                .replace("address: 10.0.1.1:8080 }", "address: 10.0.1.1, max-connections: 9 }");
        assertThat(errorsOf(kernel)).contains(
                "services[0].limits: only applies to mode l7-snat (the kernel modes forward without counting)",
                "services[0].servers[0].max-connections: only applies to mode l7-snat");
    }

    @Test
    void durationsAreWrittenAsTheyReadBack() {
        for (String text : List.of("500ms", "2s", "90s", "30m", "2h", "1d", "0ms")) {
            assertThat(Durations.format(Durations.parse(text).orElseThrow())).isEqualTo(text);
        }
        assertThat(Durations.parse("2")).isEmpty();
        assertThat(Durations.parse("2 weeks")).isEmpty();
    }

    static List<String> errorsOf(String yaml) {
        try {
            ConfigParser.parse(yaml, ConfigParser.Format.YAML);
        } catch (InvalidConfigException e) {
            return e.errors().stream().map(ConfigError::toString).toList();
        } catch (MalformedConfigException e) {
            throw new AssertionError("expected a well-formed document: " + e.getMessage(), e);
        }
        throw new AssertionError("expected the config to be rejected");
    }

    @Test
    void theKernelModesFloatingAddressesAreChecked() {
        String config = """
                cluster:
                  name: c
                  nodes: [{ id: lb1, address: 10.0.0.1:7800, admin: 127.0.0.1:9090 }]
                vips:
                  - { name: front, address: 10.0.0.100/24, interface: eth0 }
                services:
                  - name: nat
                    vip: front
                    port: 80
                    mode: l4-nat
                    nat-gateway: front
                    servers: [{ name: a, address: 10.0.1.1:8080 }]
                  - name: nat2
                    vip: front
                    ports: [81, 82]
                    mode: l4-nat
                    nat-gateway: nowhere
                    servers: [{ name: a, address: 10.0.1.1:8080 }]
                  - name: dr
                    vip: front
                    port: 83
                    mode: l4-dr
                    snat-source: front
                    servers: [{ name: a, address: 10.0.1.1 }]
                """;

        assertThat(errorsOf(config)).containsExactlyInAnyOrder(
                "services[0].nat-gateway: must be another VIP than the service's own (\"front\"): the real servers'"
                        + " gateway lives on the server-side interface",
                "services[1].nat-gateway: \"nowhere\" is not a VIP defined under vips",
                "services[1].servers[0].address: l4-nat maps to one real-server port only with one service port: with"
                        + " several ports give the address without a port (\"10.0.1.1\"), each port is kept",
                "services[2].snat-source: only applies to l4-snat services, not l4-dr");
    }
}
