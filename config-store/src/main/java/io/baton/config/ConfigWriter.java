package io.baton.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Writes a configuration back in the file vocabulary, with every default spelled out. The output is
 * canonical (the same config always gives the same bytes), so its checksum identifies the config
 * on every node, and {@link ConfigParser} reads it back to an equal {@link BatonConfig}.
 */
public final class ConfigWriter {

    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final ObjectMapper PRETTY = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private ConfigWriter() {
    }

    public static String toJson(BatonConfig config) {
        return write(MAPPER, toTree(config));
    }

    public static String toPrettyJson(BatonConfig config) {
        return write(PRETTY, toTree(config));
    }

    /** {@code sha256:<hex>} of the canonical JSON. */
    public static String checksum(BatonConfig config) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(toJson(config).getBytes(StandardCharsets.UTF_8));
            return "sha256:" + HexFormat.of().formatHex(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }

    public static ObjectNode toTree(BatonConfig config) {
        ObjectNode root = NODES.objectNode();
        root.set("cluster", cluster(config.cluster()));
        ArrayNode vips = root.putArray("vips");
        for (VipConfig vip : config.vips()) {
            vips.addObject()
                    .put("name", vip.name())
                    .put("address", vip.cidr())
                    .put("interface", vip.iface());
        }
        ArrayNode services = root.putArray("services");
        for (VirtualService service : config.services()) {
            services.add(service(service));
        }
        if (config.maxConnections() != BatonConfig.DEFAULT_MAX_CONNECTIONS) {
            root.put("max-connections", config.maxConnections());
        }
        return root;
    }

    private static ObjectNode cluster(ClusterConfig cluster) {
        ObjectNode node = NODES.objectNode().put("name", cluster.name());
        ArrayNode nodes = node.putArray("nodes");
        for (NodeConfig member : cluster.nodes()) {
            nodes.addObject()
                    .put("id", member.id())
                    .put("address", member.clusterAddress().toString())
                    .put("admin", member.adminAddress().toString())
                    .put("priority", member.priority());
        }
        node.put("preempt", cluster.preempt());
        if (cluster.witness() != null) {
            node.put("witness", cluster.witness().toString());
        }
        if (cluster.keyFile() != null) {
            node.put("key-file", cluster.keyFile());
        }
        return node;
    }

    private static ObjectNode service(VirtualService service) {
        ObjectNode node = NODES.objectNode()
                .put("name", service.name())
                .put("vip", service.vip());
        ArrayNode ports = node.putArray("ports");
        service.ports().forEach(ports::add);
        node.put("protocol", service.protocol())
                .put("mode", service.mode().configName());
        if (service.l7Mode() != null) {
            node.put("l7", service.l7Mode().configName());
        }
        node.put("balance", service.balance().configName())
                .put("scheduler", service.scheduler().configName());

        Persistence persistence = service.persistence();
        ObjectNode persistenceNode = node.putObject("persistence").put("type", persistence.type().configName());
        if (persistence.type() != PersistenceType.NONE) {
            persistenceNode.put("timeout", Durations.format(persistence.timeout()));
        }
        if (persistence.type() == PersistenceType.SOURCE_IP) {
            persistenceNode.put("netmask", persistence.netmask());
        }
        if (persistence.cookieName() != null) {
            persistenceNode.put("cookie", persistence.cookieName());
        }

        node.set("check", check(service.check()));
        node.putObject("timeouts")
                .put("connect", Durations.format(service.timeouts().connect()))
                .put("client-idle", Durations.format(service.timeouts().clientIdle()))
                .put("server-idle", Durations.format(service.timeouts().serverIdle()))
                .put("http-request", Durations.format(service.timeouts().httpRequest()));
        if (!service.timeouts().httpBody().equals(Timeouts.DEFAULTS.httpBody())) {
            ((ObjectNode) node.get("timeouts")).put("http-body", Durations.format(service.timeouts().httpBody()));
        }
        if (service.natGateway() != null) {
            node.put("nat-gateway", service.natGateway());
        }
        if (service.snatSource() != null) {
            node.put("snat-source", service.snatSource());
        }
        if (service.fallback() != null) {
            node.put("fallback", service.fallback().toString());
        }
        // written when not the default only: a config that does not use them keeps the canonical
        // form (and checksum) it had before they existed, so that nodes of two versions agree on it
        if (service.forwardedFor() != ForwardedFor.APPEND) {
            node.put("forwarded-for", service.forwardedFor().configName());
        }
        if (service.tls() != null) {
            ObjectNode tls = node.putObject("tls");
            ArrayNode certificates = tls.putArray("certificates");
            for (TlsSettings.CertificateFiles files : service.tls().certificates()) {
                certificates.addObject().put("certificate", files.certificate()).put("key", files.key());
            }
            putIfSet(tls, "client-ca", service.tls().clientCa());
            TlsSettings.ToServers toServers = service.tls().toServers();
            if (toServers != null) {
                ObjectNode servers = tls.putObject("to-servers").put("verify", toServers.verify());
                putIfSet(servers, "ca", toServers.ca());
            }
        }
        if (service.proxyProtocol() != ProxyProtocol.NONE) {
            node.put("proxy-protocol", service.proxyProtocol().configName());
        }
        if (!service.limits().equals(Limits.DEFAULTS)) {
            node.putObject("limits")
                    .put("max-connections", service.limits().maxConnections())
                    .put("server-max-connections", service.limits().serverMaxConnections())
                    .put("queue", service.limits().queue())
                    .put("queue-timeout", Durations.format(service.limits().queueTimeout()))
                    .put("request-buffer", service.limits().requestBuffer());
        }
        ArrayNode servers = node.putArray("servers");
        for (RealServer server : service.servers()) {
            ObjectNode written = servers.addObject()
                    .put("name", server.name())
                    .put("address", server.address().toString())
                    .put("weight", server.weight())
                    .put("state", server.state().configName());
            if (server.maxConnections() != null) {
                written.put("max-connections", server.maxConnections());
            }
        }
        return node;
    }

    private static ObjectNode check(HealthCheck check) {
        ObjectNode node = NODES.objectNode()
                .put("type", check.type().configName())
                .put("interval", Durations.format(check.interval()))
                .put("timeout", Durations.format(check.timeout()))
                .put("rise", check.rise())
                .put("fall", check.fall());
        if (check.port() != null) {
            node.put("port", check.port());
        }
        putIfSet(node, "method", check.method());
        putIfSet(node, "path", check.path());
        putIfSet(node, "host", check.host());
        if (check.expectStatus() != null) {
            ArrayNode expect = node.putArray("expect");
            check.expectStatus().forEach(expect::add);
        }
        putIfSet(node, "body-regex", check.bodyRegex());
        if (check.verifyTls() != null) {
            node.put("verify-tls", check.verifyTls());
        }
        putIfSet(node, "calling-ae", check.callingAeTitle());
        putIfSet(node, "called-ae", check.calledAeTitle());
        Hl7Probe hl7 = check.hl7();
        if (hl7 != null) {
            putIfSet(node, "sending-application", hl7.sendingApplication());
            putIfSet(node, "sending-facility", hl7.sendingFacility());
            putIfSet(node, "receiving-application", hl7.receivingApplication());
            putIfSet(node, "receiving-facility", hl7.receivingFacility());
            putIfSet(node, "message-type", hl7.messageType());
            putIfSet(node, "processing-id", hl7.processingId());
            putIfSet(node, "hl7-version", hl7.version());
            ArrayNode expectAck = node.putArray("expect-ack");
            hl7.expectAck().forEach(expectAck::add);
        }
        putIfSet(node, "script", check.script());
        return node;
    }

    private static void putIfSet(ObjectNode node, String key, String value) {
        if (value != null) {
            node.put(key, value);
        }
    }

    private static String write(ObjectMapper mapper, ObjectNode tree) {
        try {
            return mapper.writeValueAsString(tree);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a tree of plain nodes always serialises", e);
        }
    }
}
