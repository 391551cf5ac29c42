package io.baton.config;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Turns a YAML or JSON document into a valid {@link BatonConfig}, or reports every error in it.
 * The field names follow the vocabulary in the README's configuration reference.
 */
public final class ConfigParser {

    /** The document formats a configuration may be written in. */
    public enum Format {
        YAML, JSON;

        /** JSON for {@code *.json}, YAML otherwise (YAML also reads most JSON). */
        public static Format forFileName(String fileName) {
            return fileName.toLowerCase(Locale.ROOT).endsWith(".json") ? JSON : YAML;
        }
    }

    static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");
    private static final Pattern INTERFACE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._@:-]{0,14}");
    private static final Pattern AE_TITLE = Pattern.compile("[\\x20-\\x5B\\x5D-\\x7E]{1,16}");
    private static final Pattern HTTP_METHOD = Pattern.compile("[A-Z]{3,10}");
    /** A value for one MSH field: printable, without HL7's separators (| ^ ~ \\ &) or segment ends. */
    private static final Pattern HL7_FIELD = Pattern.compile("[\\x20-\\x7E&&[^|^~\\\\&]]{1,180}");
    private static final Pattern HL7_MESSAGE_TYPE = Pattern.compile("[A-Z0-9_]{1,7}(\\^[A-Z0-9_]{1,7}){0,2}");
    private static final String NAME_RULE = "must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit";

    private static final ObjectMapper JSON_MAPPER = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
    private static final ObjectMapper YAML_MAPPER = YAMLMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .build();

    private ConfigParser() {
    }

    public static BatonConfig parseFile(Path file) throws IOException, MalformedConfigException, InvalidConfigException {
        String text = Files.readString(file, StandardCharsets.UTF_8);
        return parse(text, Format.forFileName(file.getFileName().toString()));
    }

    public static BatonConfig parse(String text, Format format) throws MalformedConfigException, InvalidConfigException {
        return fromTree(readTree(text, format));
    }

    /** The document as a tree, or a {@link MalformedConfigException} that says where it broke. */
    public static JsonNode readTree(String text, Format format) throws MalformedConfigException {
        JsonNode root;
        try {
            root = (format == Format.JSON ? JSON_MAPPER : YAML_MAPPER).readTree(text);
        } catch (JacksonException e) {
            throw new MalformedConfigException("not valid " + format + ": " + describe(e));
        }
        if (root == null || root.isMissingNode() || root.isNull()) {
            throw new MalformedConfigException("the document is empty");
        }
        return root;
    }

    public static BatonConfig fromTree(JsonNode root) throws InvalidConfigException {
        List<ConfigError> errors = new ArrayList<>();
        Fields top = Fields.of(root, "", errors);
        Fields clusterFields = top.object("cluster");
        if (clusterFields == null) {
            top.error("cluster", "is required");
        }
        ClusterConfig cluster = clusterFields == null ? null : cluster(clusterFields);
        List<VipConfig> vips = new ArrayList<>();
        for (Fields vipFields : top.objects("vips", true)) {
            vips.add(vip(vipFields));
        }
        List<VirtualService> services = new ArrayList<>();
        for (Fields serviceFields : top.objects("services", true)) {
            services.add(service(serviceFields));
        }
        Integer maxConnections = top.integer("max-connections", BatonConfig.DEFAULT_MAX_CONNECTIONS, 1, Limits.MAX);
        top.rejectUnknownKeys();
        BatonConfig config = new BatonConfig(cluster, vips, services,
                maxConnections == null ? BatonConfig.DEFAULT_MAX_CONNECTIONS : maxConnections);
        ConfigRules.check(config, errors);
        if (!errors.isEmpty()) {
            throw new InvalidConfigException(errors);
        }
        return config;
    }

    private static ClusterConfig cluster(Fields fields) {
        String name = name(fields, "name");
        List<NodeConfig> nodes = new ArrayList<>();
        for (Fields nodeFields : fields.objects("nodes", true)) {
            nodes.add(node(nodeFields));
        }
        Boolean preempt = fields.bool("preempt", false);
        HostPort witness = fields.parsed("witness", false, null, text -> HostPort.parse(text, true).orElse(null),
                "is not an IPv4 address (ICMP) or address:port (TCP)");
        String keyFile = fields.string("key-file", false, null);
        fields.rejectUnknownKeys();
        return new ClusterConfig(name, nodes, Boolean.TRUE.equals(preempt), witness, keyFile);
    }

    private static NodeConfig node(Fields fields) {
        String id = name(fields, "id");
        HostPort address = fields.parsed("address", true, null, text -> HostPort.parse(text, false).orElse(null),
                "is not an IPv4 address:port");
        if (address != null && address.host().equals("0.0.0.0")) {
            fields.error("address", "must be this node's own address; cluster traffic never binds to 0.0.0.0");
        }
        HostPort admin = fields.parsed("admin", false, NodeConfig.DEFAULT_ADMIN,
                text -> HostPort.parse(text, false).orElse(null), "is not an IPv4 address:port");
        Integer priority = fields.integer("priority", NodeConfig.DEFAULT_PRIORITY, 1, 255);
        fields.rejectUnknownKeys();
        return new NodeConfig(id, address, admin, priority == null ? 0 : priority);
    }

    private static VipConfig vip(Fields fields) {
        String name = name(fields, "name");
        String address = null;
        int prefix = 0;
        String cidr = fields.string("address", true, null);
        if (cidr != null) {
            int slash = cidr.indexOf('/');
            String host = slash < 0 ? cidr : cidr.substring(0, slash);
            String prefixText = slash < 0 ? "32" : cidr.substring(slash + 1);
            if (!Ipv4.isValid(host) || !prefixText.matches("\\d{1,2}") || Integer.parseInt(prefixText) > 32) {
                fields.error("address", Fields.quote(cidr) + " is not an IPv4 address/prefix (e.g. 10.20.0.100/24)");
            } else {
                address = host;
                prefix = Integer.parseInt(prefixText);
            }
        }
        String iface = fields.string("interface", true, null);
        if (iface != null && !INTERFACE.matcher(iface).matches()) {
            fields.error("interface", Fields.quote(iface) + " is not a Linux interface name (at most 15 characters)");
            iface = null;
        }
        fields.rejectUnknownKeys();
        return new VipConfig(name, address, prefix, iface);
    }

    private static VirtualService service(Fields fields) {
        String name = name(fields, "name");
        String vip = fields.string("vip", true, null);
        List<Integer> ports = ports(fields);
        String protocol = fields.string("protocol", false, VirtualService.PROTOCOL_TCP);
        if (protocol != null && !protocol.equals(VirtualService.PROTOCOL_TCP)) {
            fields.error("protocol", Fields.quote(protocol) + " is not supported: only tcp");
        }
        ForwardingMode mode = fields.choice("mode", ForwardingMode.class, null, true);
        L7Mode l7Mode = fields.choice("l7", L7Mode.class, null, false);
        if (mode == ForwardingMode.L7_SNAT && l7Mode == null && !fields.has("l7")) {
            l7Mode = L7Mode.TCP;
        }
        BalanceMode balance = fields.choice("balance", BalanceMode.class, BalanceMode.LOAD_BALANCED, false);
        SchedulerKind defaultScheduler = mode != null && mode.isKernel() ? SchedulerKind.MAGLEV : SchedulerKind.WLC;
        SchedulerKind scheduler = fields.choice("scheduler", SchedulerKind.class, defaultScheduler, false);
        Fields persistenceFields = fields.object("persistence");
        Persistence persistence = persistenceFields == null ? Persistence.NONE : persistence(persistenceFields);
        Fields checkFields = fields.object("check");
        HealthCheck check = checkFields == null ? HealthCheck.connect() : check(checkFields);
        Fields timeoutFields = fields.object("timeouts");
        Timeouts timeouts = timeoutFields == null ? Timeouts.DEFAULTS : timeouts(timeoutFields);
        HostPort fallback = fields.parsed("fallback", false, null, text -> HostPort.parse(text, false).orElse(null),
                "is not an IPv4 address:port");
        String natGateway = fields.string("nat-gateway", false, null);
        String snatSource = fields.string("snat-source", false, null);
        ForwardedFor forwardedFor = fields.choice("forwarded-for", ForwardedFor.class, ForwardedFor.APPEND, false);
        if (fields.has("forwarded-for") && (mode != ForwardingMode.L7_SNAT || l7Mode != L7Mode.HTTP)) {
            fields.error("forwarded-for", "only applies to mode l7-snat with l7: http");
        }
        ProxyProtocol proxyProtocol = fields.choice("proxy-protocol", ProxyProtocol.class, ProxyProtocol.NONE, false);
        if (fields.has("proxy-protocol") && mode != null && mode != ForwardingMode.L7_SNAT) {
            fields.error("proxy-protocol", "only applies to mode l7-snat (the kernel modes forward packets: they"
                    + " add nothing to the stream)");
        }
        Fields tlsFields = fields.object("tls");
        TlsSettings tls = tlsFields == null ? null : tls(tlsFields);
        if (tlsFields != null && mode != null && mode != ForwardingMode.L7_SNAT) {
            fields.error("tls", "only applies to mode l7-snat (the kernel modes forward packets: TLS passes through)");
        }
        Fields limitFields = fields.object("limits");
        Limits limits = limitFields == null ? Limits.DEFAULTS : limits(limitFields);
        if (limitFields != null && mode != null && mode != ForwardingMode.L7_SNAT) {
            fields.error("limits", "only applies to mode l7-snat (the kernel modes forward without counting)");
        }
        List<RealServer> servers = new ArrayList<>();
        for (Fields serverFields : fields.objects("servers", true)) {
            RealServer server = server(serverFields);
            if (server.maxConnections() != null && mode != null && mode != ForwardingMode.L7_SNAT) {
                serverFields.error("max-connections", "only applies to mode l7-snat");
            }
            servers.add(server);
        }
        fields.rejectUnknownKeys();
        return new VirtualService(name, vip, ports == null ? List.of() : ports, protocol, mode, l7Mode, balance,
                scheduler, persistence, check, timeouts, fallback, natGateway, snatSource, forwardedFor, limits,
                proxyProtocol == null ? ProxyProtocol.NONE : proxyProtocol, tls, servers);
    }

    private static List<Integer> ports(Fields fields) {
        boolean hasPort = fields.has("port");
        boolean hasPorts = fields.has("ports");
        if (hasPort && hasPorts) {
            fields.error("ports", "give either port or ports, not both");
            return null;
        }
        if (!hasPort && !hasPorts) {
            fields.error("ports", "is required (e.g. ports: [104, 11112])");
            return null;
        }
        return fields.integers(hasPort ? "port" : "ports", 1, 65535);
    }

    private static Persistence persistence(Fields fields) {
        PersistenceType type = fields.choice("type", PersistenceType.class, null, true);
        Duration timeout = fields.duration("timeout", Persistence.DEFAULT_TIMEOUT);
        Integer netmask = fields.integer("netmask", 32, 0, 32);
        String cookie = fields.string("cookie", false, null);
        if (type != null && type != PersistenceType.SOURCE_IP && fields.has("netmask")) {
            fields.error("netmask", "only applies to source-ip persistence");
        }
        if (type != null && type != PersistenceType.COOKIE && cookie != null) {
            fields.error("cookie", "only applies to cookie persistence");
        }
        if (type == PersistenceType.COOKIE && cookie == null && !fields.has("cookie")) {
            cookie = Persistence.DEFAULT_COOKIE;
        }
        if (cookie != null && !cookie.matches("[A-Za-z0-9_.-]{1,64}")) {
            fields.error("cookie", Fields.quote(cookie) + " is not a valid cookie name");
        }
        if (timeout != null && timeout.isZero()) {
            fields.error("timeout", "must be longer than 0");
        }
        fields.rejectUnknownKeys();
        return new Persistence(type, timeout, netmask == null ? 32 : netmask, cookie);
    }

    private static HealthCheck check(Fields fields) {
        CheckType type = fields.choice("type", CheckType.class, CheckType.CONNECT, false);
        Duration interval = fields.duration("interval", HealthCheck.DEFAULT_INTERVAL);
        Duration timeout = fields.duration("timeout", HealthCheck.DEFAULT_TIMEOUT);
        Integer rise = fields.integer("rise", HealthCheck.DEFAULT_RISE, 1, 100);
        Integer fall = fields.integer("fall", HealthCheck.DEFAULT_FALL, 1, 100);
        Integer port = fields.has("port") ? fields.integer("port", null, 1, 65535) : null;
        if (interval != null && interval.compareTo(Duration.ofMillis(100)) < 0) {
            fields.error("interval", "must be at least 100ms");
        }
        if (timeout != null && timeout.isZero()) {
            fields.error("timeout", "must be longer than 0");
        }

        boolean http = type != null && type.isHttp();
        String method = only(fields, http, "method", "http/https", "GET");
        if (method != null && !HTTP_METHOD.matcher(method).matches()) {
            fields.error("method", Fields.quote(method) + " is not an HTTP method (e.g. GET, HEAD, OPTIONS)");
        }
        String path = only(fields, http, "path", "http/https", "/");
        if (path != null && !path.startsWith("/")) {
            fields.error("path", Fields.quote(path) + " must start with /");
        }
        String host = only(fields, http, "host", "http/https", null);
        List<Integer> expect = null;
        if (fields.has("expect")) {
            if (!http) {
                fields.error("expect", "only applies to http/https checks");
            } else {
                expect = fields.integers("expect", 100, 599);
            }
        } else if (http) {
            expect = List.of(200);
        }
        String bodyRegex = only(fields, http, "body-regex", "http/https", null);
        if (bodyRegex != null) {
            try {
                Pattern.compile(bodyRegex);
            } catch (PatternSyntaxException e) {
                fields.error("body-regex", Fields.quote(bodyRegex) + " is not a regular expression: " + e.getDescription());
            }
        }
        Boolean verifyTls = null;
        if (fields.has("verify-tls")) {
            if (type != CheckType.HTTPS) {
                fields.error("verify-tls", "only applies to https checks");
            } else {
                verifyTls = fields.bool("verify-tls", false);
            }
        } else if (type == CheckType.HTTPS) {
            verifyTls = false;
        }

        boolean dicom = type != null && type.isDicom();
        String callingAe = only(fields, dicom, "calling-ae", "dicom-echo/dicom-find", HealthCheck.DEFAULT_CALLING_AE);
        String calledAe = only(fields, dicom, "called-ae", "dicom-echo/dicom-find", HealthCheck.DEFAULT_CALLED_AE);
        for (String key : List.of("calling-ae", "called-ae")) {
            String title = key.equals("calling-ae") ? callingAe : calledAe;
            if (title != null && !AE_TITLE.matcher(title).matches()) {
                fields.error(key, Fields.quote(title) + " is not a DICOM AE title (1-16 printable characters, no backslash)");
            }
        }
        Hl7Probe hl7 = hl7(fields, type == CheckType.HL7);
        String script = only(fields, type == CheckType.EXTERNAL, "script", "external", null);
        if (type == CheckType.EXTERNAL && script == null && !fields.has("script")) {
            fields.error("script", "is required for external checks");
        }
        fields.rejectUnknownKeys();
        return new HealthCheck(type, interval, timeout, rise == null ? 0 : rise, fall == null ? 0 : fall, port,
                method, path, host, expect, bodyRegex, verifyTls, callingAe, calledAe, hl7, script);
    }

    /** The hl7 check's MSH fields and accepted acknowledgements; null (each key reported if set) for other types. */
    private static Hl7Probe hl7(Fields fields, boolean applies) {
        String sendingApplication = hl7Field(fields, applies, "sending-application",
                Hl7Probe.DEFAULT_SENDING_APPLICATION, HL7_FIELD);
        String sendingFacility = hl7Field(fields, applies, "sending-facility", null, HL7_FIELD);
        String receivingApplication = hl7Field(fields, applies, "receiving-application", null, HL7_FIELD);
        String receivingFacility = hl7Field(fields, applies, "receiving-facility", null, HL7_FIELD);
        String messageType = hl7Field(fields, applies, "message-type", Hl7Probe.DEFAULT_MESSAGE_TYPE, HL7_MESSAGE_TYPE);
        String processingId = only(fields, applies, "processing-id", "hl7", Hl7Probe.DEFAULT_PROCESSING_ID);
        if (processingId != null && !processingId.matches("[PTD]")) {
            fields.error("processing-id", Fields.quote(processingId)
                    + " is not an HL7 processing ID (P production, T training, D debugging)");
        }
        String version = only(fields, applies, "hl7-version", "hl7", Hl7Probe.DEFAULT_VERSION);
        if (version != null && !version.matches("2\\.[1-9](\\.[0-9])?")) {
            fields.error("hl7-version", Fields.quote(version) + " is not an HL7 v2 version (2.1 to 2.9, e.g. 2.5 or 2.5.1)");
        }
        List<String> expectAck = null;
        if (fields.has("expect-ack")) {
            if (!applies) {
                fields.error("expect-ack", "only applies to hl7 checks");
            } else {
                expectAck = fields.strings("expect-ack");
                if (expectAck != null) {
                    for (String code : expectAck) {
                        if (!Hl7Probe.ACK_CODES.contains(code)) {
                            fields.error("expect-ack", Fields.quote(code) + " is not an HL7 acknowledgement code (one of "
                                    + String.join(", ", Hl7Probe.ACK_CODES) + ")");
                        }
                    }
                }
            }
        }
        if (!applies) {
            return null;
        }
        return new Hl7Probe(sendingApplication, sendingFacility, receivingApplication, receivingFacility, messageType,
                processingId, version, expectAck == null ? Hl7Probe.DEFAULT_EXPECT_ACK : expectAck);
    }

    /** One MSH field of the hl7 check: plain text that cannot break the segment it goes into. */
    private static String hl7Field(Fields fields, boolean applies, String key, String defaultValue, Pattern valid) {
        String value = only(fields, applies, key, "hl7", defaultValue);
        if (value != null && !valid.matcher(value).matches()) {
            fields.error(key, Fields.quote(value) + (valid == HL7_MESSAGE_TYPE
                    ? " is not an HL7 message type (e.g. NMD^N02, ADT^A01): letters and digits, components joined by ^"
                    : " is not an HL7 field value (1-180 printable characters, none of | ^ ~ \\ &)"));
        }
        return value;
    }

    /** A string field that belongs to some check types only: reported if set on another type. */
    private static String only(Fields fields, boolean applies, String key, String types, String defaultValue) {
        if (!applies) {
            if (fields.has(key)) {
                fields.error(key, "only applies to " + types + " checks");
            }
            return null;
        }
        return fields.string(key, false, defaultValue);
    }

    private static TlsSettings tls(Fields fields) {
        List<TlsSettings.CertificateFiles> certificates = new ArrayList<>();
        for (Fields pair : fields.objects("certificates", true)) {
            String certificate = absoluteFile(pair, "certificate");
            String key = absoluteFile(pair, "key");
            pair.rejectUnknownKeys();
            certificates.add(new TlsSettings.CertificateFiles(certificate, key));
        }
        String clientCa = fields.has("client-ca") ? absoluteFile(fields, "client-ca") : null;
        TlsSettings.ToServers toServers = null;
        Fields servers = fields.object("to-servers");
        if (servers != null) {
            Boolean verify = servers.bool("verify", true);
            String ca = servers.has("ca") ? absoluteFile(servers, "ca") : null;
            if (ca != null && Boolean.FALSE.equals(verify)) {
                servers.error("ca", "is not used with verify: false (the servers' certificates are not checked)");
            }
            servers.rejectUnknownKeys();
            toServers = new TlsSettings.ToServers(!Boolean.FALSE.equals(verify), ca);
        }
        fields.rejectUnknownKeys();
        return new TlsSettings(certificates, clientCa, toServers);
    }

    /** A required file path, absolute: a node reads it from its own disk, whatever its working directory. */
    private static String absoluteFile(Fields fields, String key) {
        String path = fields.string(key, true, null);
        if (path != null && !path.startsWith("/")) {
            fields.error(key, Fields.quote(path) + " must be an absolute path (e.g. /etc/baton/tls/viewer.pem)");
        }
        return path;
    }

    private static Timeouts timeouts(Fields fields) {
        Duration connect = positive(fields, "connect", Timeouts.DEFAULTS.connect());
        Duration clientIdle = positive(fields, "client-idle", Timeouts.DEFAULTS.clientIdle());
        Duration serverIdle = positive(fields, "server-idle", Timeouts.DEFAULTS.serverIdle());
        Duration httpRequest = positive(fields, "http-request", Timeouts.DEFAULTS.httpRequest());
        Duration httpBody = positive(fields, "http-body", Timeouts.DEFAULTS.httpBody());
        fields.rejectUnknownKeys();
        return new Timeouts(connect, clientIdle, serverIdle, httpRequest, httpBody);
    }

    private static Limits limits(Fields fields) {
        Integer maxConnections = fields.integer("max-connections", Limits.DEFAULTS.maxConnections(), 1, Limits.MAX);
        Integer serverMax = fields.integer("server-max-connections", Limits.DEFAULTS.serverMaxConnections(), 1,
                Limits.MAX);
        Integer queue = fields.integer("queue", Limits.DEFAULTS.queue(), 0, Limits.MAX);
        Duration queueTimeout = positive(fields, "queue-timeout", Limits.DEFAULTS.queueTimeout());
        Integer requestBuffer = fields.integer("request-buffer", Limits.DEFAULT_REQUEST_BUFFER, 0,
                Limits.MAX_REQUEST_BUFFER);
        fields.rejectUnknownKeys();
        return new Limits(maxConnections == null ? 1 : maxConnections, serverMax == null ? 1 : serverMax,
                queue == null ? 0 : queue, queueTimeout, requestBuffer == null ? 0 : requestBuffer);
    }

    private static Duration positive(Fields fields, String key, Duration defaultValue) {
        Duration value = fields.duration(key, defaultValue);
        if (value != null && value.isZero()) {
            fields.error(key, "must be longer than 0");
        }
        return value;
    }

    private static RealServer server(Fields fields) {
        String name = name(fields, "name");
        HostPort address = fields.parsed("address", true, null, text -> HostPort.parse(text, true).orElse(null),
                "is not an IPv4 address:port");
        Integer weight = fields.integer("weight", RealServer.DEFAULT_WEIGHT, 0, RealServer.MAX_WEIGHT);
        ServerState state = fields.choice("state", ServerState.class, ServerState.ONLINE, false);
        Integer maxConnections = fields.has("max-connections")
                ? fields.integer("max-connections", null, 1, Limits.MAX) : null;
        fields.rejectUnknownKeys();
        return new RealServer(name, address, weight == null ? 0 : weight, state, maxConnections);
    }

    private static String name(Fields fields, String key) {
        String name = fields.string(key, true, null);
        if (name != null && !NAME.matcher(name).matches()) {
            fields.error(key, Fields.quote(name) + " " + NAME_RULE);
            return null;
        }
        return name;
    }

    private static String describe(JacksonException e) {
        String message = e.getOriginalMessage();
        int cut = message.indexOf("\n at [Source");
        if (cut >= 0) {
            message = message.substring(0, cut);
        }
        JsonLocation location = e.getLocation();
        if (location != null && location.getLineNr() > 0) {
            return "line " + location.getLineNr() + ", column " + location.getColumnNr() + ": " + message;
        }
        return message;
    }
}
