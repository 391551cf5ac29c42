package io.baton.host;

import io.baton.config.VipConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@link AddressManager} doing what iproute2's {@code ip -4 addr add CIDR dev IFACE label
 * IFACE:baton} does. The label marks Baton's addresses, so that {@code ip addr} shows who put them
 * there. In this process's own network namespace the requests go straight to the kernel over
 * rtnetlink and interfaces are read from sysfs (no process on the failover path); for another
 * namespace (tests) it runs {@code ip -n NS}.
 */
public final class IpCommand implements AddressManager {

    /** Linux limits interface names and labels to 15 characters. */
    private static final int MAX_LABEL = 15;
    private static final String LABEL_SUFFIX = ":baton";

    /** Null for this process's own network namespace. */
    private final String namespace;
    /** The ARP settings of interfaces made to answer for their own addresses only: iface -> {arp_ignore, arp_announce}. */
    private final java.util.Map<String, String[]> arpBefore = new java.util.concurrent.ConcurrentHashMap<>();
    private static final List<String> ARP_SETTINGS = List.of("arp_ignore", "arp_announce");
    private static final List<String> ARP_OWN_ONLY = List.of("1", "2");

    /** Works on this process's network namespace. */
    public IpCommand() {
        this(null);
    }

    /** Works on a named network namespace ({@code ip -n NS}), e.g. for tests. */
    public IpCommand(String namespace) {
        this.namespace = namespace;
    }

    @Override
    public void add(VipConfig vip) throws IOException {
        String label = vip.iface() + LABEL_SUFFIX;
        if (label.length() > MAX_LABEL) {
            label = null;
        }
        if (namespace == null) {
            RtNetlink.add(vip, ifindex(vip.iface()), label);
            return;
        }
        if (holds(vip)) {
            return;
        }
        List<String> command = ip("-4", "addr", "add", vip.cidr(), "dev", vip.iface());
        if (label != null) {
            command.addAll(List.of("label", label));
        }
        run(command);
    }

    @Override
    public void remove(VipConfig vip) throws IOException {
        if (namespace == null) {
            RtNetlink.remove(vip, ifindex(vip.iface()));
        } else if (holds(vip)) {
            run(ip("-4", "addr", "del", vip.cidr(), "dev", vip.iface()));
        }
    }

    @Override
    public boolean holds(VipConfig vip) throws IOException {
        String shown = run(ip("-4", "-o", "addr", "show", "dev", vip.iface()));
        for (String line : shown.split("\n")) {
            String[] words = line.trim().split("\\s+");
            for (int i = 0; i + 1 < words.length; i++) {
                if (words[i].equals("inet") && words[i + 1].equals(vip.cidr())) {
                    return true;
                }
            }
        }
        return false;
    }

    @Override
    public String mac(String iface) throws IOException {
        if (namespace == null) {
            String mac = sysfs(iface, "address");
            if (mac.isEmpty() || mac.equals("00:00:00:00:00:00")) {
                throw new IOException("interface " + iface + " has no Ethernet address");
            }
            return mac;
        }
        String[] words = link(iface).split("\\s+");
        for (int i = 0; i + 1 < words.length; i++) {
            if (words[i].equals("link/ether")) {
                return words[i + 1];
            }
        }
        throw new IOException("interface " + iface + " has no Ethernet address");
    }

    @Override
    public int ifindex(String iface) throws IOException {
        if (namespace == null) {
            return Integer.parseInt(sysfs(iface, "ifindex"));
        }
        String line = link(iface);
        return Integer.parseInt(line.substring(0, line.indexOf(':')).trim());
    }

    @Override
    public boolean linkUp(String iface) throws IOException {
        if (namespace == null) {
            // cheap enough to ask every 50 ms: no process, just sysfs
            String state = sysfs(iface, "operstate");
            return state.equals("up") || state.equals("unknown");
        }
        return link(iface).contains("LOWER_UP");
    }

    @Override
    public List<String> interfaces() throws IOException {
        if (namespace == null) {
            try (var listed = Files.list(Path.of("/sys/class/net"))) {
                return listed.map(path -> path.getFileName().toString()).sorted().toList();
            }
        }
        return run(ip("-o", "link", "show")).lines()
                .map(line -> line.split(":\\s+")[1].split("@")[0])
                .sorted().toList();
    }

    @Override
    public void arpForOwnAddressesOnly(String iface, boolean on) throws IOException {
        ifindex(iface); // a valid name, of an interface this namespace has
        if (on && !arpBefore.containsKey(iface)) {
            String[] before = new String[ARP_SETTINGS.size()];
            for (int i = 0; i < before.length; i++) {
                before[i] = readConf(iface, ARP_SETTINGS.get(i));
            }
            arpBefore.put(iface, before);
            for (int i = 0; i < before.length; i++) {
                writeConf(iface, ARP_SETTINGS.get(i), ARP_OWN_ONLY.get(i));
            }
        } else if (!on) {
            String[] before = arpBefore.remove(iface);
            if (before != null) {
                for (int i = 0; i < before.length; i++) {
                    writeConf(iface, ARP_SETTINGS.get(i), before[i]);
                }
            }
        }
    }

    private String readConf(String iface, String name) throws IOException {
        String path = "/proc/sys/net/ipv4/conf/" + iface + "/" + name;
        return namespace == null ? Files.readString(Path.of(path)).strip()
                : run(List.of("ip", "netns", "exec", namespace, "cat", path)).strip();
    }

    private void writeConf(String iface, String name, String value) throws IOException {
        String path = "/proc/sys/net/ipv4/conf/" + iface + "/" + name;
        if (namespace == null) {
            Files.writeString(Path.of(path), value + "\n");
        } else {
            run(List.of("ip", "netns", "exec", namespace, "sh", "-c", "echo " + value + " > " + path));
        }
    }

    /** Where {@code address} is configured: "IFACE CIDR" for each interface that holds it. */
    public List<String> holdersOf(String address) throws IOException {
        List<String> holders = new ArrayList<>();
        for (String line : run(ip("-4", "-o", "addr", "show")).split("\n")) {
            String[] words = line.trim().split("\\s+");
            for (int i = 0; i + 1 < words.length; i++) {
                if (words[i].equals("inet") && words[i + 1].startsWith(address + "/")) {
                    holders.add(words[1] + " " + words[i + 1]);
                }
            }
        }
        return holders;
    }

    /** The IPv4 default route(s), as {@code ip -4 route show default} prints them; blank when none. */
    public String defaultRoute() throws IOException {
        return run(ip("-4", "route", "show", "default")).strip();
    }

    /** One attribute of an interface of this process's namespace, from /sys/class/net. */
    private static String sysfs(String iface, String attribute) throws IOException {
        if (iface.isEmpty() || iface.contains("/") || iface.startsWith(".")) {
            throw new IOException("not an interface name: " + iface);
        }
        try {
            return Files.readString(Path.of("/sys/class/net", iface, attribute)).strip();
        } catch (NoSuchFileException e) {
            throw new IOException("no interface " + iface + " on this host");
        }
    }

    /** {@code ip -o link show dev IFACE}: "7: eth0@if8: <...> ... link/ether 02:... brd ..." */
    private String link(String iface) throws IOException {
        try {
            return run(ip("-o", "link", "show", "dev", iface)).strip();
        } catch (IOException e) {
            throw new IOException("no interface " + iface + (namespace == null ? "" : " in namespace " + namespace)
                    + ": " + e.getMessage(), e);
        }
    }

    private List<String> ip(String... arguments) {
        List<String> command = new ArrayList<>(List.of("ip"));
        if (namespace != null) {
            command.addAll(List.of("-n", namespace));
        }
        command.addAll(List.of(arguments));
        return command;
    }

    private static String run(List<String> command) throws IOException {
        return HostCommand.run(command, null, "iproute2");
    }
}
