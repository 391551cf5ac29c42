package io.baton.appliance.admin;

import io.baton.appliance.admin.AdminTokens.Caller;

import java.net.URI;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * Who may use the admin API, decided from a request's head alone (before its body is read). Pure.
 *
 * <ul>
 *   <li>{@code GET /healthz} is anyone's: it says only that the node runs and its revision.
 *   <li>A {@code Host} must be an IP address, {@code localhost} or a name the operator allowed
 *       ({@code --admin-host}): a web page whose name the attacker made resolve to this node (DNS
 *       rebinding) sends its own name.
 *   <li>A request a browser marks as coming from another site (an {@code Origin} that is not this
 *       host, or {@code Sec-Fetch-Site: cross-site}) is refused: no page but the node's own may
 *       use the API. Scripts and the CLI send no {@code Origin}.
 *   <li>With a token file, every request carries {@code Authorization: Bearer SECRET}; a read token
 *       may only read. Without one (only on loopback: see {@link #requireTokens}), callers are
 *       whoever can reach loopback on this host.
 *   <li>A change (any method but GET and HEAD) carries a JSON or YAML body type: a browser sends
 *       {@code text/plain}, form and multipart bodies cross-site without asking first, JSON never.
 * </ul>
 */
public final class AdminAccess {

    /** The parts of a request's head that decide. Header values are null when absent. */
    public record Head(String method, String path, String host, String origin, String fetchSite,
                       String contentType, String authorization) {
    }

    /** What to do with a request. */
    public sealed interface Verdict {
    }

    /** Serve it, for {@code caller}. */
    public record Admitted(Caller caller) implements Verdict {
    }

    /** Answer {@code status} with {@code reason} and read nothing more of it. */
    public record Refused(int status, String reason) implements Verdict {
    }

    private static final Caller ANYONE = new Caller("anyone", AdminTokens.Role.READ);

    private final AdminTokens tokens;
    private final Set<String> hostNames;

    /**
     * @param tokens    the token file's tokens; null when the API is on loopback without one
     * @param hostNames the names besides IP addresses and {@code localhost} that a {@code Host} may give
     */
    public AdminAccess(AdminTokens tokens, Set<String> hostNames) {
        this.tokens = tokens;
        this.hostNames = hostNames.stream().map(name -> name.toLowerCase(Locale.ROOT)).collect(
                java.util.stream.Collectors.toUnmodifiableSet());
    }

    /**
     * Why an API bound to {@code bindHost} without a token file must not start, or null when it may:
     * anything but loopback is reachable by others.
     */
    public static String requireTokens(String bindHost, boolean haveTokens) {
        if (haveTokens || isLoopback(bindHost)) {
            return null;
        }
        return "the admin API would listen on " + bindHost + ", which others can reach, without tokens: give"
                + " --admin-tokens FILE (lines of NAME ROLE SECRET; `baton token NAME admin` makes one), or bind it"
                + " to loopback (--admin 127.0.0.1:9090)";
    }

    public Verdict decide(Head head) {
        String method = head.method() == null ? "" : head.method();
        if (head.path() != null && head.path().equals(AdminApi.HEALTHZ) && method.equals("GET")) {
            return new Admitted(ANYONE);
        }
        String hostProblem = hostProblem(head.host());
        if (hostProblem != null) {
            return new Refused(403, hostProblem);
        }
        if ("cross-site".equalsIgnoreCase(trim(head.fetchSite()))) {
            return new Refused(403, "refused: the browser says this request comes from another site");
        }
        if (head.origin() != null && !sameOrigin(head.origin(), head.host())) {
            return new Refused(403, "refused: a request from a page of " + shorten(head.origin())
                    + " (only the node's own pages and clients that send no Origin may use the admin API)");
        }
        Caller caller;
        if (tokens == null) {
            caller = Caller.LOCAL;
        } else {
            Optional<Caller> known = tokens.authenticate(bearer(head.authorization()));
            if (known.isEmpty()) {
                return new Refused(401, head.authorization() == null
                        ? "this admin API needs a token: send Authorization: Bearer SECRET (the CLI: --token-file FILE"
                        + " or BATON_TOKEN_FILE)"
                        : "the token is not one of this node's (see its --admin-tokens file)");
            }
            caller = known.get();
        }
        boolean change = !method.equals("GET") && !method.equals("HEAD");
        if (change && caller.role() != AdminTokens.Role.ADMIN) {
            return new Refused(403, "token \"" + caller.name() + "\" may only read; " + method + " " + head.path()
                    + " changes the node");
        }
        if (change && !jsonOrYaml(head.contentType())) {
            return new Refused(415, "a change must be sent as application/json or application/yaml"
                    + (head.contentType() == null ? " (no Content-Type given)"
                    : " (not " + shorten(head.contentType()) + ")"));
        }
        return new Admitted(caller);
    }

    /** Why {@code host} (a Host header) is not this node's, or null when it is (or is absent: no browser). */
    private String hostProblem(String host) {
        if (host == null) {
            return null;
        }
        String name = hostName(host);
        if (name == null) {
            return "refused: malformed Host header \"" + shorten(host) + "\"";
        }
        if (name.equals("localhost") || isIpLiteral(name) || hostNames.contains(name)) {
            return null;
        }
        return "refused: Host \"" + shorten(name) + "\" is not a name of this node (an IP address, localhost, or a"
                + " name given with --admin-host)";
    }

    /** The name part of a Host header, lower case, brackets of an IPv6 address removed; null when malformed. */
    static String hostName(String host) {
        String value = trim(host).toLowerCase(Locale.ROOT);
        if (value.isEmpty()) {
            return null;
        }
        String name;
        String port = null;
        if (value.startsWith("[")) {
            int close = value.indexOf(']');
            if (close < 0) {
                return null;
            }
            name = value.substring(1, close);
            String rest = value.substring(close + 1);
            if (!rest.isEmpty()) {
                if (!rest.startsWith(":")) {
                    return null;
                }
                port = rest.substring(1);
            }
        } else {
            int colon = value.indexOf(':');
            if (colon >= 0) {
                if (value.indexOf(':', colon + 1) >= 0) {
                    return null;
                }
                port = value.substring(colon + 1);
                name = value.substring(0, colon);
            } else {
                name = value;
            }
        }
        if (port != null && (port.isEmpty() || port.length() > 5 || !port.chars().allMatch(Character::isDigit))) {
            return null;
        }
        if (name.isEmpty() || !name.chars().allMatch(c -> Character.isLetterOrDigit(c) && c < 128
                || c == '.' || c == '-' || c == ':')) {
            return null;
        }
        if (name.endsWith(".")) {
            name = name.substring(0, name.length() - 1); // "localhost." is localhost
        }
        return name;
    }

    /** Whether {@code origin} (scheme://host[:port]) is the node itself as the request's Host names it. */
    private static boolean sameOrigin(String origin, String host) {
        if (host == null) {
            return false;
        }
        try {
            URI uri = new URI(trim(origin));
            if (uri.getHost() == null || uri.getRawAuthority() == null) {
                return false;
            }
            return uri.getRawAuthority().equalsIgnoreCase(trim(host));
        } catch (java.net.URISyntaxException e) {
            return false; // "null" (a sandboxed page or a file) included
        }
    }

    private static boolean jsonOrYaml(String contentType) {
        if (contentType == null) {
            return false;
        }
        String type = contentType.split(";", 2)[0].strip().toLowerCase(Locale.ROOT);
        return type.equals("application/json") || type.equals("application/yaml") || type.equals("application/x-yaml")
                || type.equals("text/yaml") || type.equals("text/x-yaml");
    }

    private static String bearer(String authorization) {
        if (authorization == null) {
            return null;
        }
        String value = authorization.strip();
        if (value.length() < 7 || !value.substring(0, 7).equalsIgnoreCase("bearer ")) {
            return null;
        }
        return value.substring(7).strip();
    }

    static boolean isIpLiteral(String name) {
        if (name.contains(":")) {
            return name.chars().allMatch(c -> Character.digit(c, 16) >= 0 || c == ':' || c == '.');
        }
        String[] parts = name.split("\\.", -1);
        if (parts.length != 4) {
            return false;
        }
        for (String part : parts) {
            if (part.isEmpty() || part.length() > 3 || !part.chars().allMatch(Character::isDigit)
                    || Integer.parseInt(part) > 255) {
                return false;
            }
        }
        return true;
    }

    static boolean isLoopback(String bindHost) {
        String host = bindHost.toLowerCase(Locale.ROOT);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        return host.equals("localhost") || host.equals("::1") || (isIpLiteral(host) && host.startsWith("127."));
    }

    private static String trim(String value) {
        return value == null ? "" : value.strip();
    }

    private static String shorten(String text) {
        return text.length() > 80 ? text.substring(0, 80) + "…" : text;
    }
}
