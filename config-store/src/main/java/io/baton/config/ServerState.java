package io.baton.config;

/** The operator's wish for a real server, independent of its health. */
public enum ServerState implements ConfigName {
    ONLINE("online"),
    /** No new connections; established connections and persistent clients carry on. */
    DRAIN("drain"),
    /** No new connections, and established ones are closed. */
    HALT("halt");

    private final String configName;

    ServerState(String configName) {
        this.configName = configName;
    }

    @Override
    public String configName() {
        return configName;
    }
}
