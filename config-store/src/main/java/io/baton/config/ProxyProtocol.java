package io.baton.config;

/**
 * Whether an {@code l7-snat} service tells its real servers who the client is with a PROXY protocol
 * header (HAProxy's {@code send-proxy-v2}) at the start of every connection it opens to them.
 */
public enum ProxyProtocol implements ConfigName {
    /** No header: the servers see the node's address as the client's. */
    NONE("none"),
    /** A binary PROXY protocol v2 header: the client's address and port, and the VIP's. */
    V2("v2");

    private final String configName;

    ProxyProtocol(String configName) {
        this.configName = configName;
    }

    @Override
    public String configName() {
        return configName;
    }
}
