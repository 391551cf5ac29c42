package io.baton.config;

/** The algorithm that picks a real server for a new connection. */
public enum SchedulerKind implements ConfigName {
    RR("rr"),
    WRR("wrr"),
    LC("lc"),
    WLC("wlc"),
    /** Weighted consistent hashing: every node computes the same table from the same config. */
    MAGLEV("maglev");

    private final String configName;

    SchedulerKind(String configName) {
        this.configName = configName;
    }

    @Override
    public String configName() {
        return configName;
    }
}
