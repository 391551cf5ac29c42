package io.baton.appliance;

import io.baton.host.TestNetwork;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * What the namespace tests do to and ask of Baton nodes running the real jar in network
 * namespaces (admin API at 127.0.0.1:9090 inside each): start one, read its status, see whether it
 * holds a VIP, cut and heal its cluster links.
 */
final class NamespaceNodes {

    private NamespaceNodes() {
    }

    /** Starts node {@code id} in {@code namespace} with the production JVM options, on {@code work}/baton.yaml. */
    static BatonProcess start(String namespace, String id, Path work) throws IOException {
        return start(namespace, id, work, null);
    }

    /** Like {@link #start(String, String, Path)}, with {@code binDir} first on the node's PATH (stand-in host tools). */
    static BatonProcess start(String namespace, String id, Path work, Path binDir) throws IOException {
        List<String> command = new java.util.ArrayList<>(List.of("ip", "netns", "exec", namespace));
        if (binDir != null) {
            command.addAll(List.of("env", "PATH=" + binDir + ":" + System.getenv("PATH")));
        }
        return launch(command, id, work, work);
    }

    /** The capabilities that packaging/baton.service gives the node, and no other. */
    static final String CAPABILITIES = "-all,+net_admin,+net_raw,+net_bind_service";

    /**
     * Starts node {@code id} the way packaging/baton.service runs it: as an unprivileged user
     * ({@code uid}), with only CAP_NET_ADMIN, CAP_NET_RAW and CAP_NET_BIND_SERVICE (ambient, so
     * that the host tools it runs have them too), a bounding set of those three and no_new_privs.
     * Its state directory is {@code stateDir}/{@code id}; the files it reads must be readable by {@code uid}.
     */
    static BatonProcess startUnprivileged(String namespace, String id, Path work, Path stateDir, int uid)
            throws IOException {
        List<String> command = new java.util.ArrayList<>(List.of("ip", "netns", "exec", namespace,
                "setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups", "--inh-caps=" + CAPABILITIES,
                "--ambient-caps=" + CAPABILITIES, "--bounding-set=" + CAPABILITIES, "--no-new-privs"));
        return launch(command, id, work, stateDir);
    }

    /** {@code prefix}, then the node with the production JVM options. */
    private static BatonProcess launch(List<String> prefix, String id, Path work, Path stateDir) throws IOException {
        List<String> command = new java.util.ArrayList<>(prefix);
        command.addAll(List.of("java",
                "@" + BatonProcess.repository().resolve("packaging/jvm.options"), "-jar", BatonProcess.jar().toString(),
                "node", "--config", work.resolve("baton.yaml").toString(), "--node", id, "--state-dir",
                stateDir.resolve(id).toString()));
        return BatonProcess.launch(command, work);
    }

    /** The node's {@code /api/v1/status} as JSON text; empty when it does not answer. */
    static String status(String namespace) {
        return admin(namespace, "/api/v1/status");
    }

    /** What the node's admin API answers to a GET of {@code path}; empty when it does not answer. */
    static String admin(String namespace, String path) {
        try {
            return TestNetwork.run("ip", "netns", "exec", namespace, "curl", "-s", "-m", "2",
                    "http://127.0.0.1:9090" + path);
        } catch (Exception e) {
            return "";
        }
    }

    /** Whether {@code vip} (a /24 on eth0) is on the namespace's interface. */
    static boolean holds(String namespace, String vip) {
        try {
            return TestNetwork.run("ip", "-n", namespace, "-4", "-o", "addr", "show", "dev", "eth0")
                    .contains(" " + vip + "/24 ");
        } catch (Exception e) {
            return false;
        }
    }

    /** Whether a request from {@code client} through {@code vip} is answered by a demo backend, quickly. */
    static boolean answers(String client, String vip) {
        try {
            return TestNetwork.run("ip", "netns", "exec", client, "curl", "-s", "--connect-timeout", "0.2", "-m", "0.5",
                    "http://" + vip + "/").contains("hello from rs");
        } catch (Exception e) {
            return false;
        }
    }

    /**
     * A client in {@code client} that opens one new connection after another to the VIP (curl, 300
     * ms to connect: less than TCP's first SYN retransmission, so a SYN lost in a gap counts), for
     * as long as it runs. {@link ClientLoop#stop} returns each attempt's HTTP status ("000" when none).
     */
    static ClientLoop clientLoop(String client, String vip, Path work) throws IOException {
        Path out = java.nio.file.Files.createTempFile(work, "client-loop-", ".txt");
        Path stop = out.resolveSibling(out.getFileName() + ".stop");
        Process loop = new ProcessBuilder("ip", "netns", "exec", client, "sh", "-c",
                "while [ ! -e " + stop + " ]; do curl -s -o /dev/null -w '%{http_code}\\n' --connect-timeout 0.3 -m 2 http://"
                        + vip + "/; sleep 0.01; done")
                .redirectOutput(out.toFile()).redirectErrorStream(true).start();
        return new ClientLoop(loop, out, stop);
    }

    /** See {@link #clientLoop}. */
    record ClientLoop(Process process, Path out, Path stopFile) implements AutoCloseable {
        /** The attempts made so far. */
        int attempts() throws IOException {
            return (int) java.nio.file.Files.readAllLines(out).stream().filter(line -> !line.isBlank()).count();
        }

        /**
         * Lets the attempt under way finish and ends the loop (killing it would cut an attempt,
         * and the shell would report the kill among the answers); killed only if it hangs.
         */
        List<String> stop() throws IOException, InterruptedException {
            java.nio.file.Files.createFile(stopFile);
            if (!process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
                process.waitFor();
            }
            return java.nio.file.Files.readAllLines(out).stream().filter(line -> !line.isBlank()).toList();
        }

        /** Ends the loop if a failed assertion left it running (it would outlive its namespace). */
        @Override
        public void close() {
            if (process.isAlive()) {
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
            }
        }
    }

    /**
     * A connection from {@code client} to the VIP's port 80, opened now and used only when
     * {@link HeldConnection#request} is called: a handover in between must not break it (the
     * client's packets go to the new holder once it announces the VIP).
     */
    static HeldConnection heldConnection(String client, String vip) throws IOException {
        Process shell = new ProcessBuilder("ip", "netns", "exec", client, "bash", "-c",
                "exec 3<>/dev/tcp/" + vip + "/80 || exit 9; echo connected; read -r go;"
                        + " printf 'GET / HTTP/1.1\\r\\nHost: " + vip + "\\r\\nConnection: close\\r\\n\\r\\n' >&3;"
                        + " timeout 3 cat <&3")
                .redirectErrorStream(true).start();
        java.io.BufferedReader out = new java.io.BufferedReader(
                new java.io.InputStreamReader(shell.getInputStream(), java.nio.charset.StandardCharsets.UTF_8));
        String first = out.readLine();
        if (!"connected".equals(first)) {
            shell.destroyForcibly();
            throw new IOException("no connection to " + vip + ":80 from " + client + ": " + first);
        }
        return new HeldConnection(shell, out);
    }

    /** See {@link #heldConnection}. */
    record HeldConnection(Process shell, java.io.BufferedReader out) implements AutoCloseable {
        /** Sends one request on the connection and returns all that comes back (empty when it was reset). */
        String request() throws IOException, InterruptedException {
            shell.getOutputStream().write("go\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            shell.getOutputStream().flush();
            StringBuilder answer = new StringBuilder();
            for (String line; (line = out.readLine()) != null; ) {
                answer.append(line).append('\n');
            }
            shell.waitFor(5, java.util.concurrent.TimeUnit.SECONDS);
            return answer.toString();
        }

        @Override
        public void close() {
            shell.destroyForcibly();
        }
    }

    /** Drops all IP traffic between this namespace and {@code peer} (ARP still passes); may be called per peer. */
    static void cut(String namespace, String peer) throws IOException {
        if (!TestNetwork.succeeds("ip", "netns", "exec", namespace, "nft", "list table inet btcut")) {
            TestNetwork.run("ip", "netns", "exec", namespace, "nft", "add table inet btcut");
            TestNetwork.run("ip", "netns", "exec", namespace, "nft",
                    "add chain inet btcut in { type filter hook input priority 0 ; }");
            TestNetwork.run("ip", "netns", "exec", namespace, "nft",
                    "add chain inet btcut out { type filter hook output priority 0 ; }");
        }
        TestNetwork.run("ip", "netns", "exec", namespace, "nft", "add rule inet btcut in ip saddr " + peer + " drop");
        TestNetwork.run("ip", "netns", "exec", namespace, "nft", "add rule inet btcut out ip daddr " + peer + " drop");
    }

    /** Undoes every {@link #cut} of this namespace. */
    static void heal(String namespace) throws IOException {
        TestNetwork.run("ip", "netns", "exec", namespace, "nft", "delete table inet btcut");
    }
}
