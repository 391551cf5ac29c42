package io.baton.appliance.cli;

import com.fasterxml.jackson.core.JacksonException;
import io.baton.appliance.admin.AdminApi;
import io.baton.appliance.admin.StatusReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

@Command(name = "status", mixinStandardHelpOptions = true,
        header = "Show nodes, roles, revisions, VIPs, services and servers.",
        description = "Show the cluster as the node sees it: nodes with role and config revision, VIPs and their "
                + "holder, services, and every real server with weight, state and health.",
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:the node answered", "2:the node could not be reached"})
final class StatusCommand implements Callable<Integer> {

    @Mixin
    AdminOption admin;

    @Option(names = "--json", description = "Print the status as JSON, for scripts.")
    boolean json;

    @Override
    public Integer call() throws NodeUnreachableException, JacksonException {
        AdminClient.Response response = admin.client().get(AdminApi.STATUS);
        if (response.status() != 200) {
            System.err.println("baton status: the node answered " + response.status() + ": " + response.error());
            return ExitCodes.FAILED;
        }
        if (json) {
            System.out.print(response.body());
        } else {
            System.out.print(StatusTable.render(response.as(StatusReport.class)));
        }
        return ExitCodes.OK;
    }
}
