package io.baton.appliance.cli;

import picocli.CommandLine.Option;

/** The {@code --reason TEXT} option of every command that changes a running cluster. */
final class ReasonOption {

    @Option(names = "--reason", paramLabel = "TEXT",
            description = "Why you make this change: kept in the cluster's audit trail with your token's name, your"
                    + " address and the time (`baton config history` shows it on every node).")
    String text;

    /** {@code client}, sending the reason given, if any. */
    AdminClient on(AdminClient client) {
        return client.withReason(text);
    }
}
