package io.baton.appliance.cli;

import io.baton.host.IpCommand;
import io.baton.host.RawSocketArp;
import io.baton.host.Sysctl;
import io.baton.config.Ipv4;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "check-real-server", mixinStandardHelpOptions = true,
        header = "Check that a real server is set up for a kernel mode (l4-dr, l4-nat).",
        description = {
            "Run it ON THE REAL SERVER (as root, or as anyone for the read-only checks):",
            "  l4-dr:  the VIP is on a loopback interface as /32 and on no other interface; arp_ignore >= 1 and"
                    + " arp_announce >= 2 on every other interface (effective value: the larger of 'all' and the"
                    + " interface's own), so that the server never answers ARP for the VIP.",
            "  l4-nat: the default route goes through the floating gateway (--gateway).",
            "",
            "Or run it ON A LOAD BALANCER with --lan IFACE: it asks the LAN who answers ARP for the VIP. Only"
                    + " the active load balancer may; a real server that answers steals clients from it.",
            "",
            "Each check prints 'ok' or 'FAIL' with what to change."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:every check passed", "1:a check failed", "64:usage error"})
final class CheckRealServerCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--mode", required = true, paramLabel = "MODE", description = "l4-dr or l4-nat")
    String mode;

    @Option(names = "--vip", required = true, paramLabel = "ADDRESS", description = "the service's VIP, e.g. 10.20.0.100")
    String vip;

    @Option(names = "--gateway", paramLabel = "ADDRESS",
            description = "l4-nat: the floating gateway address (the service's nat-gateway VIP)")
    String gateway;

    @Option(names = "--lan", paramLabel = "IFACE",
            description = "on a load balancer: the VIP's interface; asks the LAN who answers ARP for the VIP")
    String lan;

    private final List<String> failures = new ArrayList<>();

    @Override
    public Integer call() {
        try {
            return check();
        } catch (IOException e) {
            System.err.println("baton check-real-server: cannot check: " + e.getMessage());
            return ExitCodes.FAILED;
        }
    }

    private int check() throws IOException {
        if (!Ipv4.isValid(vip)) {
            throw new ParameterException(spec.commandLine(), "--vip: \"" + vip + "\" is not an IPv4 address");
        }
        if (lan != null) {
            balancerSide();
        } else if (mode.equals("l4-dr")) {
            directRouting();
        } else if (mode.equals("l4-nat")) {
            if (gateway == null || !Ipv4.isValid(gateway)) {
                throw new ParameterException(spec.commandLine(), "l4-nat needs --gateway with the floating gateway address");
            }
            nat();
        } else {
            throw new ParameterException(spec.commandLine(), "--mode: \"" + mode
                    + "\" has no real-server setup to check (l4-dr or l4-nat; l4-snat needs none)");
        }
        System.out.println(failures.isEmpty() ? "all checks passed" : failures.size() + " check(s) failed");
        return failures.isEmpty() ? ExitCodes.OK : ExitCodes.FAILED;
    }

    private void directRouting() throws IOException {
        List<String> holding = new IpCommand().holdersOf(vip);
        boolean onLoopback = holding.stream().anyMatch(entry -> entry.startsWith("lo ") && entry.endsWith("/32"));
        check(onLoopback, "the VIP " + vip + "/32 is on lo",
                "add it: ip addr add " + vip + "/32 dev lo (and make it permanent in the network configuration)");
        List<String> elsewhere = holding.stream().filter(entry -> !entry.startsWith("lo ")).toList();
        check(elsewhere.isEmpty(), "the VIP is on no other interface",
                "remove it from " + elsewhere + ": there this server would answer ARP for it");
        int ignoreAll = Sysctl.ipv4Conf("all", "arp_ignore");
        int announceAll = Sysctl.ipv4Conf("all", "arp_announce");
        for (String iface : Sysctl.ipv4Interfaces()) {
            int ignore = Math.max(ignoreAll, Sysctl.ipv4Conf(iface, "arp_ignore"));
            int announce = Math.max(announceAll, Sysctl.ipv4Conf(iface, "arp_announce"));
            check(ignore >= 1, iface + ": arp_ignore is " + ignore + " (needs 1 or more)",
                    "sysctl -w net.ipv4.conf.all.arp_ignore=1 (and in /etc/sysctl.d/ to keep it)");
            check(announce >= 2, iface + ": arp_announce is " + announce + " (needs 2)",
                    "sysctl -w net.ipv4.conf.all.arp_announce=2 (and in /etc/sysctl.d/ to keep it)");
        }
    }

    private void nat() throws IOException {
        String routes = new IpCommand().defaultRoute();
        check((routes + " ").contains("via " + gateway + " "), "the default route goes via the floating gateway "
                        + gateway,
                "replies must come back through the active load balancer: ip route replace default via " + gateway
                        + " (now: " + (routes.isBlank() ? "no default route" : routes) + ")");
    }

    private void balancerSide() throws IOException {
        IpCommand addresses = new IpCommand();
        try (RawSocketArp arp = new RawSocketArp(addresses)) {
            String answering = arp.answeredElsewhere(lan, vip, Duration.ofMillis(500));
            check(answering == null, "no other host on " + lan + " answers ARP for " + vip
                            + " (this host is " + addresses.mac(lan) + ")",
                    answering + " answers for the VIP: if that is a real server, set arp_ignore=1 and arp_announce=2"
                            + " there (baton check-real-server --mode l4-dr --vip " + vip + " on it); if it is the"
                            + " active load balancer, run this on a passive one");
        }
    }

    private void check(boolean ok, String what, String fix) {
        if (ok) {
            System.out.println("ok    " + what);
        } else {
            System.out.println("FAIL  " + what + ": " + fix);
            failures.add(what);
        }
    }
}
