package io.baton.appliance.cli;

import io.baton.config.HostPort;
import io.baton.config.NodeConfig;
import picocli.CommandLine.Option;

/** The {@code --admin HOST:PORT} option of every command that talks to a running node. */
final class AdminOption {

    @Option(names = "--admin", paramLabel = "HOST:PORT", converter = HostPortConverter.class,
            description = "Admin API of the node to talk to (default: ${DEFAULT-VALUE}).",
            defaultValue = "127.0.0.1:9090")
    HostPort admin = NodeConfig.DEFAULT_ADMIN;

    AdminClient client() {
        return new AdminClient(admin);
    }
}
