package io.baton.appliance.cli;

import io.baton.config.HostPort;
import io.baton.config.NodeConfig;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.nio.file.Path;

/** The {@code --admin HOST:PORT}, {@code --token-file FILE} and {@code --cacert FILE} options of every command that talks to a running node. */
final class AdminOption {

    /** The environment variable naming the token file when {@code --token-file} is not given. */
    static final String TOKEN_FILE_ENV = "BATON_TOKEN_FILE";
    /** The environment variable holding the token itself (for scripts that cannot keep a file). */
    static final String TOKEN_ENV = "BATON_TOKEN";
    /** The environment variable naming the CA file when {@code --cacert} is not given. */
    static final String CACERT_ENV = "BATON_CACERT";

    @Option(names = "--admin", paramLabel = "HOST:PORT", converter = HostPortConverter.class,
            description = "Admin API of the node to talk to (default: ${DEFAULT-VALUE}).",
            defaultValue = "127.0.0.1:9090")
    HostPort admin = NodeConfig.DEFAULT_ADMIN;

    @Option(names = "--token-file", paramLabel = "FILE",
            description = "A file holding the admin API token (its secret alone, or a token file line NAME ROLE "
                    + "SECRET); default: $" + TOKEN_FILE_ENV + ", else $" + TOKEN_ENV + ", else none (a node on "
                    + "loopback without tokens).")
    Path tokenFile;

    @Option(names = "--cacert", paramLabel = "FILE",
            description = "Talk HTTPS to a node whose admin API has a certificate (node --admin-cert), trusting the "
                    + "certificates in FILE (PEM: its CA, or the node's own certificate); default: $" + CACERT_ENV
                    + ", else plain HTTP. The certificate must name the --admin address (an IP address SAN for an"
                    + " address).")
    Path cacert;

    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    /** A client for the node; a token file that cannot be used is a wrong command line (exit 64, with the reason). */
    AdminClient client() {
        try {
            Path trusted = cacert != null ? cacert
                    : System.getenv(CACERT_ENV) == null || System.getenv(CACERT_ENV).isBlank() ? null
                    : Path.of(System.getenv(CACERT_ENV));
            return new AdminClient(admin, AdminClient.token(tokenFile, System.getenv()), AdminClient.trusting(trusted));
        } catch (IllegalArgumentException e) {
            throw new ParameterException(command.commandLine(), e.getMessage());
        }
    }
}
