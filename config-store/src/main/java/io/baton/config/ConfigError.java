package io.baton.config;

/**
 * One thing wrong with a configuration, where it is and why:
 * {@code services[2].servers[0].address: "10.0.0.300:104" is not an IPv4 address:port}.
 */
public record ConfigError(String path, String message) {

    @Override
    public String toString() {
        return path.isEmpty() ? message : path + ": " + message;
    }
}
