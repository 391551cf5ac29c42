package io.baton.appliance.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code baton} command: one entry point for the daemon, the operator's commands and the demo. */
@Command(name = "baton", mixinStandardHelpOptions = true, versionProvider = BatonCli.Version.class,
        description = "Baton: a clustered high-availability load balancer for hospital imaging.",
        subcommands = {NodeCommand.class, ConfigCommand.class, StatusCommand.class, ServerStateCommand.Drain.class,
                ServerStateCommand.Halt.class, ServerStateCommand.Online.class, FailoverCommand.class,
                CheckRealServerCommand.class, KeygenCommand.class, TokenCommand.class, DemoCommand.class, CommandLine.HelpCommand.class},
        footerHeading = "%nExit codes (all commands):%n",
        footer = {"  0   ok", "  1   refused or failed (invalid config, node cannot start, ...)",
                "  2   the node's admin API could not be reached", " 64   wrong command line",
                " 70   internal error (a bug: please report it)"})
public final class BatonCli implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs one command line and returns its exit code. */
    public static int run(String... args) {
        CommandLine commandLine = new CommandLine(new BatonCli())
                .setExitCodeExceptionMapper(BatonCli::exitCode)
                .setExecutionExceptionHandler(BatonCli::handle);
        commandLine.getCommandSpec().exitCodeOnInvalidInput(ExitCodes.USAGE);
        commandLine.getSubcommands().values().forEach(sub -> setUsageExitCode(sub));
        return commandLine.execute(args);
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    private static void setUsageExitCode(CommandLine commandLine) {
        commandLine.getCommandSpec().exitCodeOnInvalidInput(ExitCodes.USAGE);
        commandLine.getSubcommands().values().forEach(BatonCli::setUsageExitCode);
    }

    private static int exitCode(Throwable exception) {
        if (exception instanceof CommandLine.ParameterException) {
            return ExitCodes.USAGE;
        }
        return exception instanceof NodeUnreachableException ? ExitCodes.UNREACHABLE : ExitCodes.INTERNAL;
    }

    private static int handle(Exception exception, CommandLine commandLine, CommandLine.ParseResult parseResult) {
        String command = commandLine.getCommandSpec().qualifiedName();
        if (exception instanceof CommandLine.ParameterException) {
            System.err.println(command + ": " + exception.getMessage());
            System.err.println("Try '" + command + " --help' for more information.");
            return ExitCodes.USAGE;
        }
        if (exception instanceof NodeUnreachableException) {
            System.err.println(command + ": " + exception.getMessage());
            return ExitCodes.UNREACHABLE;
        }
        System.err.println(command + ": internal error: " + exception);
        exception.printStackTrace(System.err);
        return ExitCodes.INTERNAL;
    }

    /** The version the jar was built as. */
    static final class Version implements CommandLine.IVersionProvider {

        @Override
        public String[] getVersion() {
            String version = BatonCli.class.getPackage().getImplementationVersion();
            return new String[] {"baton " + (version == null ? "(development build)" : version),
                    "Java " + System.getProperty("java.version") + " on " + System.getProperty("os.name")};
        }
    }
}
