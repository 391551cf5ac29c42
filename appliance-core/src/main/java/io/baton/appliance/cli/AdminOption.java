package io.baton.appliance.cli;

import io.baton.config.HostPort;
import io.baton.config.NodeConfig;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.nio.file.Path;

/** The {@code --admin HOST:PORT} and {@code --token-file FILE} options of every command that talks to a running node. */
final class AdminOption {

    /** The environment variable naming the token file when {@code --token-file} is not given. */
    static final String TOKEN_FILE_ENV = "BATON_TOKEN_FILE";
    /** The environment variable holding the token itself (for scripts that cannot keep a file). */
    static final String TOKEN_ENV = "BATON_TOKEN";

    @Option(names = "--admin", paramLabel = "HOST:PORT", converter = HostPortConverter.class,
            description = "Admin API of the node to talk to (default: ${DEFAULT-VALUE}).",
            defaultValue = "127.0.0.1:9090")
    HostPort admin = NodeConfig.DEFAULT_ADMIN;

    @Option(names = "--token-file", paramLabel = "FILE",
            description = "A file holding the admin API token (its secret alone, or a token file line NAME ROLE "
                    + "SECRET); default: $" + TOKEN_FILE_ENV + ", else $" + TOKEN_ENV + ", else none (a node on "
                    + "loopback without tokens).")
    Path tokenFile;

    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    /** A client for the node; a token file that cannot be used is a wrong command line (exit 64, with the reason). */
    AdminClient client() {
        try {
            return new AdminClient(admin, AdminClient.token(tokenFile, System.getenv()));
        } catch (IllegalArgumentException e) {
            throw new ParameterException(command.commandLine(), e.getMessage());
        }
    }
}
