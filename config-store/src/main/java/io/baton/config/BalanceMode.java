package io.baton.config;

/** Whether traffic is spread over the servers or kept on the first healthy one. */
public enum BalanceMode implements ConfigName {
    LOAD_BALANCED("load-balanced"),
    /** Only the first healthy server in list order gets traffic. */
    FAILOVER("failover");

    private final String configName;

    BalanceMode(String configName) {
        this.configName = configName;
    }

    @Override
    public String configName() {
        return configName;
    }
}
