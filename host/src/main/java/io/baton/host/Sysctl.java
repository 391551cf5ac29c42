package io.baton.host;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** The IPv4 sysctls Baton reads and sets, in this process's network namespace. */
public final class Sysctl {

    private static final Path CONF = Path.of("/proc/sys/net/ipv4/conf");
    private static final Path FORWARD = Path.of("/proc/sys/net/ipv4/ip_forward");

    private Sysctl() {
    }

    /** {@code net.ipv4.conf.IFACE.NAME} ({@code all} for the global one); 0 when absent. */
    public static int ipv4Conf(String iface, String name) throws IOException {
        Path file = CONF.resolve(iface).resolve(name);
        return Files.exists(file) ? Integer.parseInt(Files.readString(file).strip()) : 0;
    }

    /** The interfaces with IPv4 settings, without {@code all}, {@code default} and {@code lo}. */
    public static List<String> ipv4Interfaces() throws IOException {
        try (Stream<Path> interfaces = Files.list(CONF)) {
            return interfaces.map(path -> path.getFileName().toString())
                    .filter(name -> !name.equals("all") && !name.equals("default") && !name.equals("lo"))
                    .sorted().toList();
        }
    }

    /** Sets {@code net.ipv4.ip_forward=1} unless it is on already. */
    public static void enableIpv4Forwarding() throws IOException {
        if (!Files.readString(FORWARD).strip().equals("1")) {
            Files.writeString(FORWARD, "1\n");
        }
    }
}
