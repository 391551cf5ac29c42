package io.baton.appliance;

import io.baton.cluster.ClusterException;
import io.baton.host.AddressManager;
import io.baton.cluster.wire.ClusterKeys;
import io.baton.config.BatonConfig;
import io.baton.config.ConfigError;
import io.baton.config.NodeConfig;
import io.baton.config.PemFiles;
import io.baton.health.CheckScripts;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What this node needs from its own host to run a config: to be listed in it, the cluster key
 * file it names, the VIP interfaces, the external check programs (in its trusted directory), the
 * certificates and keys its TLS services serve. Checked before a config is
 * stored (at first start, on apply, on replication), so that a config this node cannot run is
 * refused with the field to fix instead of being stored and failing afterwards.
 */
final class NodePrerequisites {

    private static final Logger LOG = LogManager.getLogger(NodePrerequisites.class);

    private NodePrerequisites() {
    }

    static List<ConfigError> check(BatonConfig config, String nodeId, AddressManager addresses, CheckScripts scripts) {
        List<ConfigError> errors = new ArrayList<>();
        if (config.cluster().node(nodeId).isEmpty()) {
            errors.add(new ConfigError("cluster.nodes", "this node \"" + nodeId + "\" is not listed (listed: "
                    + String.join(", ", config.cluster().nodes().stream().map(NodeConfig::id).toList())
                    + "); it would not know its own role"));
        }
        String keyFile = config.cluster().keyFile();
        if (keyFile != null) {
            try {
                ClusterKeys.read(Path.of(keyFile));
            } catch (ClusterException e) {
                errors.add(new ConfigError("cluster.key-file", e.getMessage() + " (on node " + nodeId + ")"));
            }
        }
        errors.addAll(missingInterfaces(config, nodeId, addresses));
        errors.addAll(scripts.check(config, "on node " + nodeId));
        errors.addAll(tlsFiles(config, nodeId));
        return errors;
    }

    /**
     * Every certificate and key a service terminates TLS with must be readable here, match, and be
     * valid now; a client CA file must hold certificates: checked on this node, which serves them.
     */
    static List<ConfigError> tlsFiles(BatonConfig config, String nodeId) {
        List<ConfigError> errors = new ArrayList<>();
        java.time.Instant now = java.time.Instant.now();
        for (int i = 0; i < config.services().size(); i++) {
            io.baton.config.TlsSettings tls = config.services().get(i).tls();
            if (tls == null) {
                continue;
            }
            for (int j = 0; j < tls.certificates().size(); j++) {
                io.baton.config.TlsSettings.CertificateFiles files = tls.certificates().get(j);
                try {
                    PemFiles.load(Path.of(files.certificate()), Path.of(files.key()), now);
                } catch (PemFiles.Unusable e) {
                    errors.add(new ConfigError("services[" + i + "].tls.certificates[" + j + "]", e.getMessage()
                            + " (on node " + nodeId + ")"));
                }
            }
            caFile(errors, "services[" + i + "].tls.client-ca", tls.clientCa(), nodeId);
            if (tls.toServers() != null) {
                caFile(errors, "services[" + i + "].tls.to-servers.ca", tls.toServers().ca(), nodeId);
            }
        }
        return errors;
    }

    private static void caFile(List<ConfigError> errors, String path, String file, String nodeId) {
        if (file == null) {
            return;
        }
        try {
            PemFiles.certificates(Path.of(file));
        } catch (PemFiles.Unusable e) {
            errors.add(new ConfigError(path, e.getMessage() + " (on node " + nodeId + ")"));
        }
    }

    /** Every VIP interface must exist on this node: a VIP (or a kernel service) on a missing one cannot run. */
    private static List<ConfigError> missingInterfaces(BatonConfig config, String nodeId, AddressManager addresses) {
        List<String> present;
        try {
            present = addresses.interfaces();
        } catch (IOException e) {
            LOG.warn("cannot list this node's interfaces to check the VIPs against: {}", e.getMessage());
            return List.of();
        }
        List<ConfigError> errors = new ArrayList<>();
        for (int i = 0; i < config.vips().size(); i++) {
            String iface = config.vips().get(i).iface();
            if (!present.contains(iface)) {
                errors.add(new ConfigError("vips[" + i + "].interface", "no interface \"" + iface + "\" on node "
                        + nodeId + " (it has: " + String.join(", ", present) + ")"));
            }
        }
        return errors;
    }
}
