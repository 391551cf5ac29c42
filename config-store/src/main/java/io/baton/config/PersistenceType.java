package io.baton.config;

/** How a client is kept on the real server it first reached. */
public enum PersistenceType implements ConfigName {
    NONE("none"),
    /** By client address (masked by a netmask), for a timeout after its last connection. */
    SOURCE_IP("source-ip"),
    /** By a cookie that the load balancer inserts ({@code l7-snat} {@code http} only). */
    COOKIE("cookie");

    private final String configName;

    PersistenceType(String configName) {
        this.configName = configName;
    }

    @Override
    public String configName() {
        return configName;
    }
}
