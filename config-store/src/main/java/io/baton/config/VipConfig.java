package io.baton.config;

/**
 * A floating virtual IP, held by the active node.
 *
 * @param iface the interface the address is added to ({@code eth0}, {@code lo})
 */
public record VipConfig(String name, String address, int prefix, String iface) {

    public String cidr() {
        return address + "/" + prefix;
    }
}
