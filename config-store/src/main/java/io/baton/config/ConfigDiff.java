package io.baton.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * What changed from one config to the next, in a line an operator reads in an audit trail:
 * {@code services: +hl7 ~pacs (servers: +pacs3 -pacs1; check); vips: -old; cluster}. Things are
 * matched by name; a changed service says which of its parts changed.
 */
public final class ConfigDiff {

    private ConfigDiff() {
    }

    /** The summary of going from {@code before} to {@code after}; {@code no change} when they are equal. */
    public static String summary(BatonConfig before, BatonConfig after) {
        List<String> parts = new ArrayList<>();
        if (!Objects.equals(before.cluster(), after.cluster())) {
            parts.add("cluster");
        }
        named("vips", before.vips(), after.vips(), VipConfig::name, (a, b) -> "").ifPresent(parts::add);
        named("services", before.services(), after.services(), VirtualService::name, ConfigDiff::serviceParts)
                .ifPresent(parts::add);
        if (before.maxConnections() != after.maxConnections()) {
            parts.add("max-connections " + before.maxConnections() + " -> " + after.maxConnections());
        }
        return parts.isEmpty() ? "no change" : String.join("; ", parts);
    }

    /** What of a service changed, by its config fields. */
    private static String serviceParts(VirtualService a, VirtualService b) {
        List<String> changed = new ArrayList<>();
        named("servers", a.servers(), b.servers(), RealServer::name, (x, y) -> "").ifPresent(changed::add);
        field(changed, "vip", a.vip(), b.vip());
        field(changed, "ports", a.ports(), b.ports());
        field(changed, "mode", a.mode(), b.mode());
        field(changed, "l7", a.l7Mode(), b.l7Mode());
        field(changed, "balance", a.balance(), b.balance());
        field(changed, "scheduler", a.scheduler(), b.scheduler());
        field(changed, "persistence", a.persistence(), b.persistence());
        field(changed, "check", a.check(), b.check());
        field(changed, "timeouts", a.timeouts(), b.timeouts());
        field(changed, "fallback", a.fallback(), b.fallback());
        field(changed, "nat-gateway", a.natGateway(), b.natGateway());
        field(changed, "snat-source", a.snatSource(), b.snatSource());
        field(changed, "forwarded-for", a.forwardedFor(), b.forwardedFor());
        field(changed, "limits", a.limits(), b.limits());
        field(changed, "protocol", a.protocol(), b.protocol());
        return String.join("; ", changed);
    }

    private static void field(List<String> changed, String name, Object a, Object b) {
        if (!Objects.equals(a, b)) {
            changed.add(name);
        }
    }

    private static <T> java.util.Optional<String> named(String what, List<T> before, List<T> after,
                                                        Function<T, String> name, Parts<T> parts) {
        Map<String, T> old = byName(before, name);
        Map<String, T> now = byName(after, name);
        List<String> changes = new ArrayList<>();
        now.forEach((key, item) -> {
            T was = old.get(key);
            if (was == null) {
                changes.add("+" + key);
            } else if (!was.equals(item)) {
                String inside = parts.of(was, item);
                changes.add("~" + key + (inside.isEmpty() ? "" : " (" + inside + ")"));
            }
        });
        old.keySet().stream().filter(key -> !now.containsKey(key)).forEach(key -> changes.add("-" + key));
        return changes.isEmpty() ? java.util.Optional.empty()
                : java.util.Optional.of(what + ": " + String.join(" ", changes));
    }

    private static <T> Map<String, T> byName(List<T> items, Function<T, String> name) {
        Map<String, T> map = new LinkedHashMap<>();
        items.forEach(item -> map.put(name.apply(item), item));
        return map;
    }

    /** What changed inside two items of one name. */
    private interface Parts<T> {
        String of(T before, T after);
    }
}
