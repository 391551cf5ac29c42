package io.baton.appliance.cli;

import io.baton.appliance.admin.AdminApi;
import io.baton.config.ServerState;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

import java.util.concurrent.Callable;

/**
 * {@code baton drain|halt|online SERVICE SERVER}: maintenance of one real server, without touching
 * the server. The state is runtime state of the whole cluster, not a config revision: it survives
 * restarts and config applies (an apply whose file says otherwise tells so in its answer).
 */
abstract class ServerStateCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "SERVICE", description = "The virtual service.")
    String service;

    @Parameters(index = "1", paramLabel = "SERVER", description = "The real server.")
    String server;

    @Mixin
    AdminOption admin;

    @Mixin
    ReasonOption reason;

    abstract ServerState state();

    @Override
    public Integer call() throws NodeUnreachableException {
        AdminClient.Response response = reason.on(admin.client()).put(AdminApi.serverStatePath(service, server),
                "application/json", "{\"state\": \"" + state().configName() + "\"}");
        if (response.status() != 200) {
            System.err.println("baton " + state().configName() + ": " + response.error());
            return ExitCodes.FAILED;
        }
        System.out.println(service + "/" + server + " is now " + state().configName() + " on every node (server"
                + " states version " + response.json().path("version").asLong() + "; kept across restarts and config"
                + " applies)");
        return ExitCodes.OK;
    }

    @Command(name = "drain", mixinStandardHelpOptions = true,
            header = "Drain a real server: no new connections, existing ones and persistent clients carry on.",
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {"0:done", "1:no such service or server", "2:the node could not be reached"})
    static final class Drain extends ServerStateCommand {
        @Override
        ServerState state() {
            return ServerState.DRAIN;
        }
    }

    @Command(name = "halt", mixinStandardHelpOptions = true,
            header = "Halt a real server: no new connections, and its established connections are closed.",
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {"0:done", "1:no such service or server", "2:the node could not be reached"})
    static final class Halt extends ServerStateCommand {
        @Override
        ServerState state() {
            return ServerState.HALT;
        }
    }

    @Command(name = "online", mixinStandardHelpOptions = true,
            header = "Put a drained or halted real server back online.",
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {"0:done", "1:no such service or server", "2:the node could not be reached"})
    static final class Online extends ServerStateCommand {
        @Override
        ServerState state() {
            return ServerState.ONLINE;
        }
    }
}
