package io.baton.forwarding.kernel;

import io.baton.config.BatonConfig;
import io.baton.config.ConfigParser;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

class KernelRulesetTest {

    private static final String BASE = """
            cluster:
              name: radiology
              nodes: [{ id: lb1, address: 10.0.0.1:7800, admin: 127.0.0.1:9090 }]
            vips:
              - { name: front, address: 10.0.0.100/24, interface: eth0 }
              - { name: gateway, address: 10.1.0.1/24, interface: eth1 }
            services:
            """;

    private static BatonConfig config(String services) throws Exception {
        return ConfigParser.parse(BASE + services, ConfigParser.Format.YAML);
    }

    private static final String DR = """
              - name: pacs
                vip: front
                ports: [104, 11112]
                mode: l4-dr
                servers:
                  - { name: pacs1, address: 10.0.0.11, weight: 300 }
                  - { name: pacs2, address: 10.0.0.12, weight: 100 }
                  - { name: pacs3, address: 10.0.0.13, weight: 100 }
            """;

    @Test
    void directRoutingRewritesMacsFromASeededTableAndForwardsOutOfTheSameInterface() throws Exception {
        List<KernelRuleset.Plan> plans = KernelRuleset.plan(config(DR), (service, server) -> true,
                address -> "02:00:00:00:00:" + address.substring(address.length() - 2));

        String script = KernelRuleset.script(plans, iface -> "02:00:00:00:00:01");

        KernelRuleset.Plan plan = plans.get(0);
        assertThat(plan.tableSize()).isEqualTo(307);
        assertThat(plan.servers()).extracting(KernelRuleset.TableServer::slots)
                .satisfies(slots -> assertThat(slots.get(0)).isBetween(170, 200));
        assertThat(script)
                .startsWith("table netdev baton\ndelete table netdev baton\ntable ip baton\ndelete table ip baton\n")
                .contains("type filter hook ingress device \"eth0\" priority -300;")
                .contains("ip daddr 10.0.0.100 tcp dport { 104, 11112 } ether saddr set 02:00:00:00:00:01 ether daddr"
                        + " set jhash ip saddr . tcp sport mod 307 seed 0x" + Long.toHexString(plan.seed()) + " map {")
                .contains("ether daddr 02:00:00:00:00:11 counter name \"pacs__pacs1\" fwd to \"eth0\"")
                .doesNotContain("table ip baton {");
    }

    @Test
    void theSameConfigGivesTheSameScriptAndADownServerMovesOnlyItsOwnSlots() throws Exception {
        BatonConfig config = config(DR);
        KernelRuleset.Plan all = KernelRuleset.plan(config, (s, r) -> true, address -> "02:00:00:00:00:aa").get(0);
        KernelRuleset.Plan again = KernelRuleset.plan(config(DR), (s, r) -> true, address -> "02:00:00:00:00:aa").get(0);
        KernelRuleset.Plan withoutThird = KernelRuleset.plan(config, (s, r) -> !r.equals("pacs3"),
                address -> "02:00:00:00:00:aa").get(0);

        assertThat(again.slots()).isEqualTo(all.slots());
        assertThat(again.seed()).isEqualTo(all.seed());
        assertThat(withoutThird.tableSize()).isEqualTo(all.tableSize());
        assertThat(withoutThird.left()).containsKey("pacs3");
        int moved = 0;
        for (int slot = 0; slot < all.slots().length; slot++) {
            String before = all.servers().get(all.slots()[slot]).name();
            String after = withoutThird.servers().get(withoutThird.slots()[slot]).name();
            if (!before.equals("pacs3") && !before.equals(after)) {
                moved++;
            }
        }
        assertThat(moved).as("slots of the servers still up that changed hands").isLessThan(all.tableSize() / 10);
    }

    @Test
    void natMapsAddressAndPortSnatAddsTheFloatingSourceAndFailoverKeepsOneServer() throws Exception {
        BatonConfig config = config("""
                  - name: web
                    vip: front
                    port: 80
                    mode: l4-nat
                    nat-gateway: gateway
                    persistence: { type: source-ip }
                    servers:
                      - { name: a, address: 10.1.0.21:8080 }
                      - { name: b, address: 10.1.0.22:8080 }
                  - name: hl7
                    vip: front
                    port: 2575
                    mode: l4-snat
                    balance: failover
                    snat-source: gateway
                    servers:
                      - { name: primary, address: 10.1.0.31 }
                      - { name: standby, address: 10.1.0.32 }
                """);

        List<KernelRuleset.Plan> plans = KernelRuleset.plan(config, (s, r) -> true, address -> null);
        String script = KernelRuleset.script(plans, iface -> "02:00:00:00:00:01");

        assertThat(script)
                .contains("ip daddr 10.0.0.100 tcp dport 80 dnat ip to jhash ip saddr mod 211 seed 0x")
                .contains(" : 10.1.0.21 . 8080")
                .contains("ip daddr 10.0.0.100 tcp dport 2575 dnat ip to 10.1.0.31\n")
                .contains("ct original ip daddr 10.0.0.100 meta l4proto tcp ct original proto-dst 2575 ct status dnat"
                        + " snat ip to 10.1.0.1")
                .contains("ct original ip daddr 10.0.0.100 ct direction original ip daddr 10.1.0.21 counter name \"web__a\"")
                .doesNotContain("table netdev baton {");
        assertThat(plans.get(1).servers()).extracting(KernelRuleset.TableServer::name).containsExactly("primary");
        assertThat(plans.get(1).left()).containsOnlyKeys("standby");
        assertThat(Set.of(plans.get(0).seed(), plans.get(1).seed())).hasSize(2);
    }

    @Test
    void noUsableServerMeansNoRulesOnlyTheRemoval() throws Exception {
        List<KernelRuleset.Plan> plans = KernelRuleset.plan(config(DR), (s, r) -> true, address -> null);

        assertThat(plans.get(0).forwarding()).isFalse();
        assertThat(plans.get(0).left().get("pacs1")).contains("MAC on eth0 is not known");
        assertThat(KernelRuleset.script(plans, iface -> "02:00:00:00:00:01")).isEqualTo(KernelRuleset.removal());
    }
}
