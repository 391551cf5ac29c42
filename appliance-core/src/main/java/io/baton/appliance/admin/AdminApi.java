package io.baton.appliance.admin;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.baton.appliance.ApplianceNode;
import io.baton.appliance.metrics.NodeMetrics;
import io.baton.cluster.history.AuditTrail;
import io.baton.cluster.history.ConfigHistory;
import io.baton.cluster.history.ServerStates;
import io.baton.config.BatonConfig;
import io.baton.config.ConfigDiff;
import io.baton.config.ConfigError;
import io.baton.config.ConfigName;
import io.baton.config.ConfigParser;
import io.baton.config.ConfigWriter;
import io.baton.config.InvalidConfigException;
import io.baton.config.MalformedConfigException;
import io.baton.config.RevisionInfo;
import io.baton.config.ServerState;
import io.baton.config.StoreException;
import io.baton.config.StoredConfig;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The admin API's routes, as plain Java: method, path and body in, status and JSON out. A client
 * gets a 4xx with a reason for anything it got wrong, and never a stack trace.
 */
public final class AdminApi {

    public static final String CONFIG = "/api/v1/config";
    public static final String CONFIG_REVISIONS = "/api/v1/config/revisions";
    public static final String CONFIG_ROLLBACK = "/api/v1/config/rollback";
    public static final String CONFIG_RESOLVE = "/api/v1/config/resolve";
    public static final String STATUS = "/api/v1/status";
    public static final String HEALTHZ = "/healthz";
    public static final String METRICS = "/metrics";
    public static final String FAILOVER = "/api/v1/cluster/failover";
    /** Who changed what, from where and why ({@code baton config history}). */
    public static final String AUDIT = "/api/v1/audit";
    /** The request header that carries the operator's reason for a change ({@code --reason}). */
    public static final String REASON_HEADER = "X-Baton-Reason";
    /** {@code /api/v1/services/SERVICE/servers/SERVER/state}. */
    private static final Pattern SERVER_STATE = Pattern.compile("/api/v1/services/([^/]+)/servers/([^/]+)/state");

    /** The path of a server's state, for clients. */
    public static String serverStatePath(String service, String server) {
        return "/api/v1/services/" + service + "/servers/" + server + "/state";
    }

    private static final Logger LOG = LogManager.getLogger(AdminApi.class);
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final ApplianceNode node;

    public AdminApi(ApplianceNode node) {
        this.node = node;
    }

    /** A request made on this host without tokens (tests; the caller is {@code local}). */
    public ApiResponse handle(String method, String path, String contentType, byte[] body) {
        return handle(method, path, contentType, body, new AuditTrail.Caller("local", "", ""));
    }

    /** A request from {@code caller}, whose changes the audit trail records with its name, address and reason. */
    public ApiResponse handle(String method, String path, String contentType, byte[] body, AuditTrail.Caller caller) {
        try {
            return route(method, path, contentType, body, caller);
        } catch (RuntimeException e) {
            LOG.error("admin API {} {} failed", method, path, e);
            return error(500, "internal error while handling " + method + " " + path + "; see the node's log");
        }
    }

    private ApiResponse route(String method, String path, String contentType, byte[] body, AuditTrail.Caller caller) {
        return switch (path) {
            case HEALTHZ -> method.equals("GET") ? healthz() : notAllowed(method, path, "GET");
            case STATUS -> method.equals("GET") ? json(200, node.status()) : notAllowed(method, path, "GET");
            case CONFIG -> switch (method) {
                case "GET" -> json(200, configBody(node.applied()));
                case "PUT" -> putConfig(contentType, body, caller);
                default -> notAllowed(method, path, "GET, PUT");
            };
            case CONFIG_REVISIONS -> method.equals("GET") ? revisions() : notAllowed(method, path, "GET");
            case CONFIG_ROLLBACK -> method.equals("POST") ? rollback(body, caller) : notAllowed(method, path, "POST");
            case CONFIG_RESOLVE -> method.equals("POST") ? resolve(body, caller) : notAllowed(method, path, "POST");
            case METRICS -> method.equals("GET") ? metrics() : notAllowed(method, path, "GET");
            case FAILOVER -> method.equals("POST") ? failover(caller) : notAllowed(method, path, "POST");
            case AUDIT -> method.equals("GET") ? audit() : notAllowed(method, path, "GET");
            default -> {
                Matcher serverState = SERVER_STATE.matcher(path);
                if (!serverState.matches()) {
                    yield error(404, "no such path: " + path + " (see the README's admin API section)");
                }
                yield method.equals("PUT") ? serverState(serverState.group(1), serverState.group(2), body, caller)
                        : notAllowed(method, path, "PUT");
            }
        };
    }

    private ApiResponse healthz() {
        StoredConfig applied = node.applied();
        ObjectNode body = MAPPER.createObjectNode()
                .put("status", "ok")
                .put("node", node.nodeId())
                .put("revision", applied.revision());
        return json(200, body);
    }

    private ApiResponse putConfig(String contentType, byte[] body, AuditTrail.Caller caller) {
        String text;
        try {
            text = utf8(body);
        } catch (CharacterCodingException e) {
            return error(400, "the body is not UTF-8 text");
        }
        if (text.isBlank()) {
            return error(400, "the body is empty: send the whole configuration as JSON or YAML");
        }
        ConfigParser.Format format;
        String type = contentType == null ? "" : contentType.toLowerCase(Locale.ROOT);
        if (type.contains("json")) {
            format = ConfigParser.Format.JSON;
        } else if (type.contains("yaml") || type.isEmpty() || type.startsWith("text/plain")) {
            format = text.stripLeading().startsWith("{") ? ConfigParser.Format.JSON : ConfigParser.Format.YAML;
        } else {
            return error(415, "unsupported content type " + contentType + ": send application/json or application/yaml");
        }
        BatonConfig config;
        try {
            config = ConfigParser.parse(text, format);
        } catch (MalformedConfigException e) {
            return error(400, "malformed configuration: " + e.getMessage());
        } catch (InvalidConfigException e) {
            return invalid(e.errors());
        }
        try {
            List<String> stateNotes = node.serverStateNotes(config);
            BatonConfig before = node.applied().config();
            ConfigHistory.Outcome outcome = node.apply(config, "admin-api");
            if (outcome.changed()) {
                node.audit().record("apply", outcome.revision(), caller, ConfigDiff.summary(before, config));
            }
            ObjectNode answer = outcomeBody(outcome);
            ArrayNode warnings = (ArrayNode) answer.get("warnings");
            stateNotes.forEach(warnings::add);
            return json(200, answer);
        } catch (InvalidConfigException e) {
            return invalid(e.errors());
        } catch (ConfigHistory.Failed e) {
            return error(503, "the config is valid but was not applied: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return error(503, "interrupted while applying; see `baton status` whether it was applied");
        }
    }

    /**
     * The answer to an apply, a rollback or a server state: the revision, and which members store it
     * (every member stores it; one that refused it says why, and retries).
     */
    private ObjectNode outcomeBody(ConfigHistory.Outcome outcome) {
        ObjectNode answer = MAPPER.createObjectNode()
                .put("revision", outcome.revision())
                .put("checksum", outcome.checksum())
                .put("changed", outcome.changed())
                .put("sequencer", outcome.sequencer());
        ObjectNode members = answer.putObject("members");
        ArrayNode stored = members.putArray("stored");
        outcome.stored().forEach(stored::add);
        ArrayNode refused = members.putArray("refused");
        outcome.refused().forEach((member, reason) -> refused.addObject().put("node", member).put("reason", reason));
        ArrayNode pending = members.putArray("pending");
        outcome.pending().forEach(pending::add);
        ArrayNode notRunning = answer.putArray("not-running");
        outcome.notRunning().forEach(notRunning::add);
        ArrayNode warnings = answer.putArray("warnings");
        outcome.notRunning().forEach(problem -> warnings.add(outcome.sequencer() + " stores revision "
                + outcome.revision() + " but does not run all of it: " + problem));
        outcome.refused().forEach((member, reason) -> warnings.add(member + " does not store revision "
                + outcome.revision() + ": " + reason));
        outcome.pending().forEach(member -> warnings.add(member + " had not stored revision " + outcome.revision()
                + " when this answer was sent; `baton status` shows when it has"));
        node.listenerProblems().forEach(warnings::add);
        return answer;
    }

    private ApiResponse resolve(byte[] body, AuditTrail.Caller caller) {
        JsonNode request;
        try {
            request = MAPPER.readTree(body);
        } catch (java.io.IOException e) {
            return error(400, "malformed JSON: send {\"take\": \"cluster\"} or {\"take\": \"local\"}");
        }
        String take = request == null ? null : request.path("take").asText(null);
        try {
            if ("cluster".equals(take)) {
                String resolved = node.history().takeCluster();
                node.audit().record("resolve", node.applied().revision(), caller,
                        "took the cluster's history: " + resolved);
                return json(200, MAPPER.createObjectNode().put("resolved", resolved));
            }
            if ("local".equals(take)) {
                ConfigHistory.Outcome outcome = node.history().pushLocal();
                node.audit().record("resolve", outcome.revision(), caller,
                        "pushed " + node.nodeId() + "'s config as the cluster's revision " + outcome.revision());
                ObjectNode answer = outcomeBody(outcome);
                answer.put("resolved", "this node's config is now the cluster's revision " + answer.get("revision")
                        + ", and this node takes the cluster's history");
                return json(200, answer);
            }
            return error(400, "send {\"take\": \"cluster\"} (drop this node's diverged revisions) or"
                    + " {\"take\": \"local\"} (apply this node's config as the cluster's next revision)");
        } catch (ConfigHistory.Refused e) {
            return invalid(e.errors());
        } catch (ConfigHistory.Failed e) {
            return error(409, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return error(503, "interrupted");
        }
    }

    private ApiResponse failover(AuditTrail.Caller caller) {
        String from = node.nodeId();
        try {
            String to = node.failover();
            node.audit().record("failover", node.applied().revision(), caller,
                    "active role handed from " + from + " to " + to);
            return json(200, MAPPER.createObjectNode().put("from", from).put("to", to));
        } catch (IllegalStateException e) {
            return error(409, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return error(503, "interrupted while handing over");
        }
    }

    private ApiResponse metrics() {
        byte[] text = node.metrics().getBytes(StandardCharsets.UTF_8);
        return new ApiResponse(200, NodeMetrics.CONTENT_TYPE, text, null);
    }

    private ApiResponse serverState(String service, String server, byte[] body, AuditTrail.Caller caller) {
        JsonNode request;
        try {
            request = MAPPER.readTree(body);
        } catch (java.io.IOException e) {
            return error(400, "malformed JSON: send {\"state\": \"online|drain|halt\"}");
        }
        String text = request == null ? null : request.path("state").asText(null);
        ServerState state = text == null ? null : ConfigName.parse(ServerState.class, text).orElse(null);
        if (state == null) {
            return error(400, "send {\"state\": \"" + ConfigName.choices(ServerState.class) + "\"}");
        }
        try {
            long version = node.setServerState(service, server, state, "admin-api by " + caller.name());
            node.audit().record(state.configName(), node.applied().revision(), caller,
                    service + "/" + server + ": " + state.configName());
            return json(200, MAPPER.createObjectNode()
                    .put("service", service)
                    .put("server", server)
                    .put("state", state.configName())
                    .put("version", version)
                    .put("note", "a runtime state for the whole cluster, kept across restarts and config applies;"
                            + " the config revision is unchanged"));
        } catch (IllegalArgumentException e) {
            return error(404, e.getMessage());
        } catch (ServerStates.Failed e) {
            return error(e.unknownServer() ? 404 : 503, "the state was not set: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return error(503, "interrupted");
        }
    }

    private ApiResponse revisions() {
        try {
            ArrayNode list = MAPPER.createArrayNode();
            for (RevisionInfo info : node.revisions()) {
                ObjectNode item = list.addObject()
                        .put("revision", info.revision())
                        .put("intact", info.intact())
                        .put("applied", info.revision() == node.applied().revision());
                if (info.intact()) {
                    item.put("checksum", info.checksum())
                            .put("appliedAt", info.appliedAt().toString())
                            .put("source", info.source());
                } else {
                    item.put("problem", info.problem());
                }
            }
            return json(200, MAPPER.createObjectNode().set("revisions", list));
        } catch (StoreException e) {
            return error(500, e.getMessage());
        }
    }

    private ApiResponse audit() {
        ArrayNode list = MAPPER.createArrayNode();
        for (AuditTrail.Entry entry : node.audit().entries()) {
            list.addObject()
                    .put("at", entry.at().toString())
                    .put("node", entry.node())
                    .put("action", entry.action())
                    .put("revision", entry.revision())
                    .put("caller", entry.caller())
                    .put("peer", entry.peer())
                    .put("reason", entry.reason())
                    .put("summary", entry.summary())
                    .put("id", entry.id());
        }
        return json(200, MAPPER.createObjectNode().put("node", node.nodeId()).set("changes", list));
    }

    private ApiResponse rollback(byte[] body, AuditTrail.Caller caller) {
        JsonNode request;
        try {
            request = MAPPER.readTree(body);
        } catch (JacksonException e) {
            return error(400, "malformed JSON: " + e.getOriginalMessage());
        } catch (java.io.IOException e) {
            return error(400, "unreadable body");
        }
        if (request == null || !request.path("revision").canConvertToLong() || !request.path("revision").isIntegralNumber()) {
            return error(400, "send {\"revision\": N} with the revision to roll back to");
        }
        long revision = request.get("revision").asLong();
        try {
            BatonConfig before = node.applied().config();
            ConfigHistory.Outcome outcome = node.rollback(revision);
            if (outcome.changed()) {
                String diff = node.keptConfig(revision).map(config -> ": " + ConfigDiff.summary(before, config))
                        .orElse("");
                node.audit().record("rollback", outcome.revision(), caller, "to revision " + revision + diff);
            }
            return json(200, outcomeBody(outcome).put("restored", revision));
        } catch (InvalidConfigException e) {
            return invalid(e.errors());
        } catch (ConfigHistory.Failed e) {
            return error(e.getMessage().contains("is not kept") ? 404 : 409, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return error(503, "interrupted");
        }
    }

    private static ObjectNode configBody(StoredConfig applied) {
        ObjectNode body = MAPPER.createObjectNode()
                .put("revision", applied.revision())
                .put("checksum", applied.checksum())
                .put("appliedAt", applied.appliedAt().toString())
                .put("source", applied.source());
        body.set("config", ConfigWriter.toTree(applied.config()));
        return body;
    }

    private static ApiResponse invalid(List<ConfigError> errors) {
        ObjectNode body = MAPPER.createObjectNode()
                .put("error", errors.size() + " configuration error(s); nothing was changed");
        ArrayNode list = body.putArray("errors");
        for (ConfigError configError : errors) {
            list.addObject().put("path", configError.path()).put("message", configError.message());
        }
        return json(422, body);
    }

    private static ApiResponse notAllowed(String method, String path, String allowed) {
        return error(405, method + " is not allowed on " + path + " (allowed: " + allowed + ")").withAllow(allowed);
    }

    static ApiResponse error(int status, String message) {
        return json(status, MAPPER.createObjectNode().put("error", message));
    }

    private static ApiResponse json(int status, Object body) {
        try {
            return ApiResponse.json(status, MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(body));
        } catch (JacksonException e) {
            throw new IllegalStateException("status and config records always serialise", e);
        }
    }

    private static String utf8(byte[] body) throws CharacterCodingException {
        return StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT)
                .decode(ByteBuffer.wrap(body))
                .toString();
    }
}
