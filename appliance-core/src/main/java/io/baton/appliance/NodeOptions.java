package io.baton.appliance;

import io.baton.config.HostPort;
import io.baton.health.CheckScripts;

import java.nio.file.Path;
import java.util.List;

/**
 * How to start one node.
 *
 * @param configFile    the bootstrap config: applied as revision 1 when the store is empty
 * @param nodeId        this node's id in {@code cluster.nodes}
 * @param stateDir      where the config store keeps its revisions
 * @param adminOverride listen here instead of the node's configured admin address; null to use it
 * @param adminTokens   the admin API's token file (required unless the API is on loopback); null for none
 * @param adminHosts    names besides IP addresses and localhost by which clients may reach the admin API
 * @param checksDir     the only directory whose programs external checks may run
 * @param adminCert     the admin API's certificate (PEM, the chain); with {@code adminKey} it serves HTTPS; null: HTTP
 * @param adminKey      that certificate's private key (PEM, PKCS#8)
 */
public record NodeOptions(Path configFile, String nodeId, Path stateDir, HostPort adminOverride, Path adminTokens,
                          List<String> adminHosts, Path checksDir, Path adminCert, Path adminKey) {

    public NodeOptions {
        adminHosts = List.copyOf(adminHosts);
        checksDir = checksDir == null ? CheckScripts.DEFAULT_DIRECTORY : checksDir;
    }

    /** A node whose admin API needs no token (it must then listen on loopback), with the default check directory. */
    public NodeOptions(Path configFile, String nodeId, Path stateDir, HostPort adminOverride) {
        this(configFile, nodeId, stateDir, adminOverride, null, List.of(), null);
    }

    /** Without TLS. */
    public NodeOptions(Path configFile, String nodeId, Path stateDir, HostPort adminOverride, Path adminTokens,
                       List<String> adminHosts, Path checksDir) {
        this(configFile, nodeId, stateDir, adminOverride, adminTokens, adminHosts, checksDir, null, null);
    }

    /** With the default check directory. */
    public NodeOptions(Path configFile, String nodeId, Path stateDir, HostPort adminOverride, Path adminTokens,
                       List<String> adminHosts) {
        this(configFile, nodeId, stateDir, adminOverride, adminTokens, adminHosts, null);
    }
}
