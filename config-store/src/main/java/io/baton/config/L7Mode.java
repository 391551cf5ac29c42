package io.baton.config;

/** What an {@code l7-snat} service understands of its traffic. */
public enum L7Mode implements ConfigName {
    /** Any TCP protocol (DICOM, HL7/MLLP, TLS passthrough), relayed as bytes. */
    TCP("tcp"),
    /** HTTP/1.1: cookies, X-Forwarded-For, per-request redispatch. */
    HTTP("http");

    private final String configName;

    L7Mode(String configName) {
        this.configName = configName;
    }

    @Override
    public String configName() {
        return configName;
    }
}
