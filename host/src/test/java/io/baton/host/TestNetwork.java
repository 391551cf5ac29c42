package io.baton.host;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;

/**
 * Network namespaces and veth pairs made for one test, with fresh names (the kernel tears old ones
 * down asynchronously), every command's exit status checked, and everything removed on close.
 * Needs root: CI runs as root, and a missing capability fails loudly.
 */
public final class TestNetwork implements AutoCloseable {

    public final String id = HexFormat.of().formatHex(new SecureRandom().generateSeed(3));
    /** A /24 of its own for this test, inside the namespaces it makes. */
    public final String subnet = "10.251." + (Integer.parseInt(id.substring(0, 2), 16)) + ".";
    private final List<List<String>> cleanup = new ArrayList<>();

    public String namespace(String role) throws IOException {
        String name = "bt" + role + "-" + id;
        run("ip", "netns", "add", name);
        cleanup.add(0, List.of("ip", "netns", "del", name));
        run("ip", "-n", name, "link", "set", "lo", "up");
        return name;
    }

    /**
     * A veth pair: {@code left} in {@code leftNamespace} (null: this process's namespace), {@code right}
     * in {@code rightNamespace}; both up.
     */
    public void veth(String left, String leftNamespace, String right, String rightNamespace) throws IOException {
        run("ip", "link", "add", left, "type", "veth", "peer", "name", right);
        cleanup.add(0, List.of("ip", "link", "del", left));
        if (leftNamespace != null) {
            run("ip", "link", "set", left, "netns", leftNamespace);
            cleanup.add(0, List.of("ip", "-n", leftNamespace, "link", "del", left));
        }
        run("ip", "link", "set", right, "netns", rightNamespace);
        up(leftNamespace, left);
        up(rightNamespace, right);
        awaitCarrier(leftNamespace, left);
        awaitCarrier(rightNamespace, right);
    }

    public void address(String namespace, String iface, String cidr) throws IOException {
        run("ip", "-n", namespace, "addr", "add", cidr, "dev", iface);
    }

    /** A namespace holding one bridge, {@code br0}: the LAN the hosts are plugged into. */
    public String lan() throws IOException {
        return lan("s");
    }

    /** Another LAN ({@code role} tells it from the first, e.g. "t"). */
    public String lan(String role) throws IOException {
        String lan = namespace(role);
        run("ip", "-n", lan, "link", "add", "br0", "type", "bridge");
        run("ip", "-n", lan, "link", "set", "br0", "up");
        return lan;
    }

    /** Plugs {@code host} into the LAN with an interface named {@code eth0} inside the host namespace. */
    public void plug(String host, String lan, int port) throws IOException {
        plug(host, lan, port, "eth0");
    }

    /** Plugs {@code host} into the LAN as {@code iface}; {@code port} numbers the link, unique in this network. */
    public void plug(String host, String lan, int port, String iface) throws IOException {
        String hostSide = "h" + id + port;
        String lanSide = "s" + id + port;
        run("ip", "link", "add", hostSide, "type", "veth", "peer", "name", lanSide);
        cleanup.add(0, List.of("ip", "link", "del", hostSide));
        run("ip", "link", "set", hostSide, "netns", host);
        run("ip", "-n", host, "link", "set", hostSide, "name", iface);
        run("ip", "link", "set", lanSide, "netns", lan);
        run("ip", "-n", lan, "link", "set", lanSide, "master", "br0");
        up(lan, lanSide);
        up(host, iface);
        awaitCarrier(host, iface);
    }

    public String mac(String namespace, String iface) throws IOException {
        String[] words = run("ip", "-n", namespace, "-o", "link", "show", "dev", iface).trim().split("\\s+");
        for (int i = 0; i + 1 < words.length; i++) {
            if (words[i].equals("link/ether")) {
                return words[i + 1];
            }
        }
        throw new IOException(iface + " in " + namespace + " has no MAC");
    }

    private void up(String namespace, String iface) throws IOException {
        if (namespace == null) {
            run("ip", "link", "set", iface, "up");
        } else {
            run("ip", "-n", namespace, "link", "set", iface, "up");
        }
    }

    private void awaitCarrier(String namespace, String iface) {
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            String shown = namespace == null ? run("ip", "-o", "link", "show", "dev", iface)
                    : run("ip", "-n", namespace, "-o", "link", "show", "dev", iface);
            return shown.contains("LOWER_UP");
        });
    }

    /** Runs a command; fails with its output if it exits non-zero. */
    public static String run(String... command) throws IOException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new IOException(String.join(" ", command) + " hung");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        if (process.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + " failed (exit " + process.exitValue() + "): "
                    + output.strip() + (output.contains("Operation not permitted") ? " (these tests need root)" : ""));
        }
        return output;
    }

    /** Runs a command and tells only whether it succeeded. */
    public static boolean succeeds(String... command) {
        try {
            run(command);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public void close() {
        for (List<String> command : cleanup) {
            succeeds(command.toArray(String[]::new));
        }
    }
}
