package io.baton.health;

import io.baton.config.HealthCheck;

/**
 * What one check looks at.
 *
 * @param vipAddress the service's VIP (passed to external scripts as $1)
 * @param vipPort    the service's first port ($2)
 * @param host       the real server's address ($3)
 * @param port       the port to check: the check's own port, else the server's, else the service's ($4)
 */
public record CheckTarget(String service, String server, String vipAddress, int vipPort, String host, int port,
                          HealthCheck check) {

    public String label() {
        return service + "/" + server;
    }
}
