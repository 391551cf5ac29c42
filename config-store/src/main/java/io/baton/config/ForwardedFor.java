package io.baton.config;

/** What an {@code l7: http} service does with a client's {@code X-Forwarded-For} field. */
public enum ForwardedFor implements ConfigName {
    /** The client's address is added to the list the client sent (HAProxy's {@code option forwardedfor}). */
    APPEND("append"),
    /**
     * The field holds the client's address only, whatever the client sent: for servers that trust
     * only what the balancer saw (a client cannot then pass a forged address along).
     */
    REPLACE("replace");

    private final String configName;

    ForwardedFor(String configName) {
        this.configName = configName;
    }

    @Override
    public String configName() {
        return configName;
    }
}
