package io.baton.config;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class ConfigDiffTest {

    private static final String BASE = """
            cluster:
              name: c
              nodes: [{ id: lb1, address: 10.0.0.1:7800 }]
            vips: [{ name: v, address: 10.0.0.100/24, interface: eth0 }]
            services:
              - name: web
                vip: v
                ports: [80]
                mode: l7-snat
                servers: [{ name: s1, address: 10.0.1.1:8080 }, { name: s2, address: 10.0.1.2:8080 }]
            """;

    @Test
    void anEqualConfigIsNoChange() throws Exception {
        assertThat(ConfigDiff.summary(parse(BASE), parse(BASE))).isEqualTo("no change");
    }

    @Test
    void namesWhatWasAddedRemovedAndChangedInsideAService() throws Exception {
        String after = """
                cluster:
                  name: c
                  nodes: [{ id: lb1, address: 10.0.0.1:7800 }]
                vips:
                  - { name: v, address: 10.0.0.100/24, interface: eth0 }
                  - { name: w, address: 10.0.0.101/24, interface: eth0 }
                services:
                  - name: web
                    vip: v
                    ports: [80, 8080]
                    mode: l7-snat
                    check: { type: http, path: /health }
                    servers: [{ name: s1, address: 10.0.1.1:8080 }, { name: s3, address: 10.0.1.3:8080 }]
                  - name: hl7
                    vip: w
                    ports: [2575]
                    mode: l7-snat
                    l7: tcp
                    servers: [{ name: e1, address: 10.0.2.1:2575 }]
                """;

        assertThat(ConfigDiff.summary(parse(BASE), parse(after)))
                .isEqualTo("vips: +w; services: ~web (servers: +s3 -s2; ports; check) +hl7");
        assertThat(ConfigDiff.summary(parse(after), parse(BASE)))
                .isEqualTo("vips: -w; services: ~web (servers: +s2 -s3; ports; check) -hl7");
    }

    @Test
    void aServersWeightIsAChangeOfThatServer() throws Exception {
        assertThat(ConfigDiff.summary(parse(BASE), parse(BASE.replace("10.0.1.2:8080 }", "10.0.1.2:8080, weight: 50 }"))))
                .isEqualTo("services: ~web (servers: ~s2)");
    }

    private static BatonConfig parse(String yaml) throws Exception {
        return ConfigParser.parse(yaml, ConfigParser.Format.YAML);
    }
}
