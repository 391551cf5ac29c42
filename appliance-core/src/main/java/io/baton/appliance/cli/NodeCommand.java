package io.baton.appliance.cli;

import io.baton.appliance.ApplianceNode;
import io.baton.appliance.NodeOptions;
import io.baton.appliance.NodeStartException;
import io.baton.config.HostPort;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "node", mixinStandardHelpOptions = true,
        header = "Run one appliance node in the foreground.",
        description = "Run one appliance node in the foreground, logging to stdout. SIGTERM or Ctrl-C stops it "
                + "cleanly. On first start the --config file becomes config revision 1; after that the node "
                + "runs the applied revision from its store (change it with: baton config apply).",
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:stopped cleanly", "1:could not start (the reason is printed and logged)"})
final class NodeCommand implements Callable<Integer> {

    @Option(names = "--config", required = true, paramLabel = "FILE",
            description = "Bootstrap config file (YAML, or JSON for *.json).")
    Path config;

    @Option(names = "--node", required = true, paramLabel = "ID", description = "This node's id in cluster.nodes.")
    String nodeId;

    @Option(names = "--state-dir", paramLabel = "DIR",
            description = "Where the config store keeps its revisions (default: /var/lib/baton/ID).")
    Path stateDir;

    @Option(names = "--admin", paramLabel = "HOST:PORT", converter = HostPortConverter.class,
            description = "Serve the admin API here instead of the node's configured admin address.")
    HostPort admin;

    @Option(names = "--admin-tokens", paramLabel = "FILE",
            description = "The admin API's token file (lines of NAME ROLE SECRET, mode 0600; make a line with "
                    + "`baton token NAME admin|read`). Required when the admin API listens on anything but loopback; "
                    + "with it every request but GET /healthz needs Authorization: Bearer SECRET.")
    Path adminTokens;

    @Option(names = "--admin-cert", paramLabel = "FILE",
            description = "Serve the admin API over HTTPS with this certificate (PEM: the node's certificate, then any "
                    + "intermediates); needs --admin-key. TLS 1.3 and 1.2 only. Clients: --cacert.")
    Path adminCert;

    @Option(names = "--admin-key", paramLabel = "FILE",
            description = "The private key of --admin-cert (PEM, unencrypted PKCS#8, readable by its owner only).")
    Path adminKey;

    @Option(names = "--admin-host", paramLabel = "NAME",
            description = "A name by which operators reach the admin API (besides IP addresses and localhost); "
                    + "requests naming any other Host are refused (DNS rebinding). Repeat for several.")
    java.util.List<String> adminHosts = new java.util.ArrayList<>();

    @Option(names = "--checks-dir", paramLabel = "DIR",
            description = "The only directory whose programs external health checks may run (a check's script is a "
                    + "name or path inside it; symbolic links out of it are refused). Default: ${DEFAULT-VALUE}.",
            defaultValue = "/etc/baton/checks")
    Path checksDir;

    @Option(names = "--log-level", paramLabel = "LEVEL", defaultValue = "INFO",
            description = "Log level: ERROR, WARN, INFO, DEBUG or TRACE (default: ${DEFAULT-VALUE}).")
    String logLevel;

    @Override
    public Integer call() throws InterruptedException {
        Logging.setLevel(Level.toLevel(logLevel, Level.INFO));
        Logger log = LogManager.getLogger(NodeCommand.class);
        Path state = stateDir != null ? stateDir : Path.of("/var/lib/baton", nodeId);
        ApplianceNode node;
        try {
            node = ApplianceNode.start(new NodeOptions(config, nodeId, state, admin, adminTokens, adminHosts,
                    checksDir, adminCert, adminKey));
        } catch (NodeStartException e) {
            log.error("node {} cannot start: {}", nodeId, e.getMessage());
            return ExitCodes.FAILED;
        }
        String signal = Signals.awaitTermination();
        log.info("received SIG{}: stopping node {}", signal, nodeId);
        node.close();
        return ExitCodes.OK;
    }
}
