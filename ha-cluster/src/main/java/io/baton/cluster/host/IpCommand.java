package io.baton.cluster.host;

import io.baton.config.VipConfig;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@link AddressManager} with iproute2's {@code ip}: {@code ip -4 addr add CIDR dev IFACE label
 * IFACE:baton}. The label marks Baton's addresses, so that {@code ip addr} shows who put them there.
 */
public final class IpCommand implements AddressManager {

    /** Linux limits interface names and labels to 15 characters. */
    private static final int MAX_LABEL = 15;
    private static final String LABEL_SUFFIX = ":baton";

    /** Null for this process's own network namespace. */
    private final String namespace;

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
        if (holds(vip)) {
            return;
        }
        List<String> command = ip("-4", "addr", "add", vip.cidr(), "dev", vip.iface());
        String label = vip.iface() + LABEL_SUFFIX;
        if (label.length() <= MAX_LABEL) {
            command.addAll(List.of("label", label));
        }
        run(command);
    }

    @Override
    public void remove(VipConfig vip) throws IOException {
        if (holds(vip)) {
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
        String line = link(iface);
        return Integer.parseInt(line.substring(0, line.indexOf(':')).trim());
    }

    @Override
    public boolean linkUp(String iface) throws IOException {
        if (namespace == null) {
            // cheap enough to ask every 100 ms: no process, just sysfs
            try {
                String state = java.nio.file.Files.readString(java.nio.file.Path.of("/sys/class/net", iface, "operstate"))
                        .strip();
                return state.equals("up") || state.equals("unknown");
            } catch (java.nio.file.NoSuchFileException e) {
                throw new IOException("no interface " + iface + " on this host");
            }
        }
        return link(iface).contains("LOWER_UP");
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
        Process process;
        try {
            process = new ProcessBuilder(command).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new IOException("cannot run " + command.get(0) + " (is iproute2 installed?): " + e.getMessage(), e);
        }
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new IOException(String.join(" ", command) + " did not finish in 10 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
            throw new IOException("interrupted while running " + String.join(" ", command), e);
        }
        if (process.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " failed (exit " + process.exitValue() + "): "
                    + output.strip());
        }
        return output;
    }
}
