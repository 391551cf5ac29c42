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
 * @param natGateway l4-nat: the VIP (on the server-side interface) the real servers use as their
 *                   gateway, so that replies return through the active node; null otherwise
 * @param snatSource l4-snat: the VIP whose address is the source of connections to the real
 *                   servers; null for the service's own VIP
 * @param forwardedFor {@code l7: http}: whether the client's address is appended to the
 *                     {@code X-Forwarded-For} it sent or replaces it
 * @param limits   {@code l7-snat}: connections at once, per server, and the queue before them
 * @param proxyProtocol {@code l7-snat}: whether each connection to a real server starts with a PROXY
 *                      protocol header that names the client
 * @param tls      {@code l7-snat}: TLS termination at the VIP; null for none (clients speak in the clear,
 *                 or TLS that is passed through in {@code tcp})
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
        String natGateway,
        String snatSource,
        ForwardedFor forwardedFor,
        Limits limits,
        ProxyProtocol proxyProtocol,
        TlsSettings tls,
        List<RealServer> servers) {

    public static final String PROTOCOL_TCP = "tcp";

    public VirtualService {
        ports = List.copyOf(ports);
        servers = List.copyOf(servers);
    }

    /** This service with other real servers (e.g. one server's state changed). */
    public VirtualService withServers(List<RealServer> newServers) {
        return new VirtualService(name, vip, ports, protocol, mode, l7Mode, balance, scheduler, persistence, check,
                timeouts, fallback, natGateway, snatSource, forwardedFor, limits, proxyProtocol, tls, newServers);
    }

    /** This service with another fallback. */
    public VirtualService withFallback(HostPort newFallback) {
        return new VirtualService(name, vip, ports, protocol, mode, l7Mode, balance, scheduler, persistence, check,
                timeouts, newFallback, natGateway, snatSource, forwardedFor, limits, proxyProtocol, tls, servers);
    }

    /** This service with other TLS settings (null: none). */
    public VirtualService withTls(TlsSettings newTls) {
        return new VirtualService(name, vip, ports, protocol, mode, l7Mode, balance, scheduler, persistence, check,
                timeouts, fallback, natGateway, snatSource, forwardedFor, limits, proxyProtocol, newTls, servers);
    }

    public Optional<RealServer> server(String serverName) {
        return servers.stream().filter(server -> java.util.Objects.equals(server.name(), serverName) && serverName != null).findFirst();
    }
}
