package io.baton.config;

import java.util.List;

/**
 * TLS termination of an {@code l7-snat} service: its clients speak TLS 1.2 or 1.3 to the VIP, and
 * the service relays (tcp) or proxies (http) what they send in the clear.
 *
 * @param certificates the service's certificates, the first the default: a client's SNI name picks
 *                     the certificate whose subject alternative names (or common name) match it
 * @param clientCa     a PEM file of the CAs whose client certificates are accepted: mutual TLS,
 *                     clients without such a certificate are refused; null for none asked
 * @param toServers    re-encryption: the service speaks TLS to its real servers too; null for clear text
 */
public record TlsSettings(List<CertificateFiles> certificates, String clientCa, ToServers toServers) {

    public TlsSettings {
        certificates = List.copyOf(certificates);
    }

    /**
     * TLS from the service to its real servers.
     *
     * @param verify whether a server's certificate must be signed by {@code ca} (or, without it, a CA the
     *               JDK trusts); the servers are addressed by IP, so their names are not checked
     * @param ca     a PEM file of the CAs that sign the servers' certificates; null for the JDK's
     */
    public record ToServers(boolean verify, String ca) {
    }

    /** A certificate chain file (the server's certificate first) and its private key file, both PEM. */
    public record CertificateFiles(String certificate, String key) {
    }
}
