package io.baton.appliance;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.baton.cluster.host.AddressManager;
import io.baton.cluster.host.ArpProbe;
import io.baton.cluster.host.HostCommand;
import io.baton.forwarding.kernel.KernelHost;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** The kernel data plane's host: the {@code nft} tool, sysfs, and ARP through the cluster's raw socket. */
final class LinuxKernelHost implements KernelHost {

    /** How long a real server has to answer an ARP question for its MAC. */
    private static final Duration ARP_WAIT = Duration.ofMillis(200);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final AddressManager addresses;
    private final ArpProbe arp;

    LinuxKernelHost(AddressManager addresses, ArpProbe arp) {
        this.addresses = addresses;
        this.arp = arp;
    }

    @Override
    public void nft(String script) throws IOException {
        run(List.of("nft", "-f", "-"), script);
    }

    @Override
    public Map<String, long[]> counters() throws IOException {
        Map<String, long[]> counters = new HashMap<>();
        for (String family : List.of("netdev", "ip")) {
            String listed;
            try {
                listed = run(List.of("nft", "-j", "list", "counters", "table", family, "baton"), null);
            } catch (IOException absent) {
                continue; // no such table: nothing of this family programmed
            }
            for (JsonNode item : JSON.readTree(listed).path("nftables")) {
                JsonNode counter = item.path("counter");
                if (!counter.isMissingNode()) {
                    counters.put(counter.path("name").asText(),
                            new long[] {counter.path("packets").asLong(), counter.path("bytes").asLong()});
                }
            }
        }
        return counters;
    }

    @Override
    public String ownMac(String iface) throws IOException {
        return addresses.mac(iface);
    }

    @Override
    public String neighbourMac(String iface, String address) throws IOException {
        return arp.answeredElsewhere(iface, address, ARP_WAIT);
    }

    @Override
    public void enableForwarding() throws IOException {
        Path forwarding = Path.of("/proc/sys/net/ipv4/ip_forward");
        if (!Files.readString(forwarding).strip().equals("1")) {
            Files.writeString(forwarding, "1\n");
        }
    }

    private static String run(List<String> command, String input) throws IOException {
        return HostCommand.run(command, input, "nftables");
    }
}
