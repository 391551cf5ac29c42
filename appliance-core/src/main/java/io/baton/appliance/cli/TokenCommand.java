package io.baton.appliance.cli;

import io.baton.appliance.admin.AdminTokens;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.util.concurrent.Callable;

@Command(name = "token", mixinStandardHelpOptions = true,
        header = "Make an admin API token.",
        description = {"Print a new admin API token as a line of a token file: NAME ROLE SECRET (256 random bits). "
                + "Append it to the node's token file (mode 0600, named by `baton node --admin-tokens FILE`) and "
                + "restart the node; give the secret to the caller, e.g. in a file of its own for "
                + "`baton status --token-file FILE` (the whole line works too). ROLE admin may do everything; "
                + "read may only read (status, config, revisions, metrics: for monitoring).",
                "",
                "Example: baton token ops admin >> /etc/baton/admin.tokens"},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:printed", "64:wrong name or role"})
final class TokenCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "NAME", description = "The token's name, as the node logs its caller.")
    String name;

    @Parameters(index = "1", paramLabel = "ROLE", description = "admin or read.")
    String role;

    @Override
    public Integer call() {
        AdminTokens.Role parsed = switch (role) {
            case "admin" -> AdminTokens.Role.ADMIN;
            case "read" -> AdminTokens.Role.READ;
            default -> null;
        };
        if (parsed == null) {
            System.err.println("baton token: ROLE must be admin or read, not " + role);
            return ExitCodes.USAGE;
        }
        try {
            System.out.println(AdminTokens.newLine(name, parsed));
        } catch (IllegalArgumentException e) {
            System.err.println("baton token: " + e.getMessage());
            return ExitCodes.USAGE;
        }
        return ExitCodes.OK;
    }
}
