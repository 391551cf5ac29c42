package io.baton.config;

import java.util.List;
import java.util.Optional;

/**
 * A service offered on a VIP.
 *
 * @param vip      the name of the VIP it listens on
 * @param ports    the ports it listens on
 * @param l7Mode   {@code tcp} or {@code http} for {@code l7-snat}; null for kernel modes
 * @param fallback answers when no real server is available (a maintenance page); null for none
 */
public record VirtualService(
        String name,
        String vip,
        List<Integer> ports,
        String protocol,
        ForwardingMode mode,
        L7Mode l7Mode,
        BalanceMode balance,
        SchedulerKind scheduler,
        Persistence persistence,
        HealthCheck check,
        Timeouts timeouts,
        HostPort fallback,
        List<RealServer> servers) {

    public static final String PROTOCOL_TCP = "tcp";

    public VirtualService {
        ports = List.copyOf(ports);
        servers = List.copyOf(servers);
    }

    public Optional<RealServer> server(String serverName) {
        return servers.stream().filter(server -> server.name().equals(serverName)).findFirst();
    }
}
