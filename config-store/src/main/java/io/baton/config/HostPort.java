package io.baton.config;

import java.util.Optional;

/**
 * An IPv4 address with a port. The port may be absent where the configuration allows it
 * (a real server that answers on whatever port the client used, or an ICMP witness).
 */
public record HostPort(String host, Integer port) {

    /** Parses {@code a.b.c.d:port}, or {@code a.b.c.d} alone when {@code portOptional}. */
    public static Optional<HostPort> parse(String text, boolean portOptional) {
        int colon = text.lastIndexOf(':');
        String host = colon < 0 ? text : text.substring(0, colon);
        if (!Ipv4.isValid(host)) {
            return Optional.empty();
        }
        if (colon < 0) {
            return portOptional ? Optional.of(new HostPort(host, null)) : Optional.empty();
        }
        String portText = text.substring(colon + 1);
        if (portText.isEmpty() || portText.length() > 5 || !portText.chars().allMatch(Character::isDigit)) {
            return Optional.empty();
        }
        int port = Integer.parseInt(portText);
        if (port < 1 || port > 65535) {
            return Optional.empty();
        }
        return Optional.of(new HostPort(host, port));
    }

    public boolean hasPort() {
        return port != null;
    }

    @Override
    public String toString() {
        return port == null ? host : host + ":" + port;
    }
}
