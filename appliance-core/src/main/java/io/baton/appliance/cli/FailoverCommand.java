package io.baton.appliance.cli;

import io.baton.appliance.admin.AdminApi;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.util.concurrent.Callable;

@Command(name = "failover", mixinStandardHelpOptions = true,
        header = "Hand the active role gracefully to the best peer.",
        description = "Asks the active node (at --admin) to hand over: it stops listening and removes the VIPs"
                + " first, then the best ready peer claims them.",
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:handed over", "1:refused (not the active node, or no peer ready)",
                "2:the node could not be reached"})
final class FailoverCommand implements Callable<Integer> {

    @Mixin
    AdminOption admin;

    @Mixin
    ReasonOption reason;

    @Override
    public Integer call() throws NodeUnreachableException {
        AdminClient.Response response = reason.on(admin.client()).post(AdminApi.FAILOVER, "{}");
        if (response.status() != 200) {
            System.err.println("baton failover: " + response.error());
            return ExitCodes.FAILED;
        }
        System.out.println("active role handed from " + response.json().path("from").asText() + " to "
                + response.json().path("to").asText());
        return ExitCodes.OK;
    }
}
