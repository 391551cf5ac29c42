package io.baton.appliance.cli;

import io.baton.cluster.wire.ClusterKeys;
import com.fasterxml.jackson.core.JacksonException;
import io.baton.appliance.ApplianceNode;
import io.baton.appliance.NodeOptions;
import io.baton.appliance.NodeStartException;
import io.baton.appliance.admin.AdminApi;
import io.baton.appliance.admin.StatusReport;
import io.baton.appliance.demo.DemoBackend;
import io.baton.config.HostPort;
import io.baton.config.NodeConfig;
import io.baton.health.HealthState;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

@Command(name = "demo", mixinStandardHelpOptions = true,
        header = "Run the demo on loopback: a pair, traffic, a failover (no root needed).",
        description = "Run the demo on loopback, without root: an active/passive pair of nodes running a loopback "
                + "version of examples/pacs.yaml over two built-in demo backends. It sends requests through the "
                + "web-viewer VIP, shows the status, stops the active node and shows the passive one take over, "
                + "then runs until Ctrl-C.",
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:the demo ran and stopped cleanly", "1:the demo could not start (the reason is printed)"})
final class DemoCommand implements Callable<Integer> {

    private static final String TEMPLATE = "/io/baton/appliance/demo/demo.yaml";
    /** The web-viewer service's VIP:port in the demo config. */
    private static final String WEB_VIEWER = "127.0.0.100:8443";

    @Option(names = "--admin", paramLabel = "HOST:PORT", converter = HostPortConverter.class,
            defaultValue = "127.0.0.1:9090", description = "Admin API of the demo node (default: ${DEFAULT-VALUE}).")
    HostPort admin = NodeConfig.DEFAULT_ADMIN;

    @Option(names = "--once", description = "Show the status once and stop (for scripts and tests).")
    boolean once;

    @Override
    public Integer call() throws IOException, InterruptedException, NodeUnreachableException, JacksonException {
        Logging.setLevel(Level.INFO);
        Logger log = LogManager.getLogger(DemoCommand.class);
        Path workDir = Files.createTempDirectory("baton-demo-");
        HostPort admin2 = new HostPort(admin.host(), admin.port() + 1);
        try (DemoBackend first = DemoBackend.start("demo backend 1", 0);
             DemoBackend second = DemoBackend.start("demo backend 2", 0)) {
            Path config = workDir.resolve("demo.yaml");
            Path key = workDir.resolve("cluster.key");
            ClusterKeys.generate(key);
            Files.writeString(config, template()
                    .replace("@KEY@", key.toString())
                    .replace("@CLUSTER1@", "127.0.0.1:" + freePort())
                    .replace("@CLUSTER2@", "127.0.0.1:" + freePort())
                    .replace("@ADMIN1@", admin.toString())
                    .replace("@ADMIN2@", admin2.toString())
                    .replace("@BACKEND1@", "127.0.0.1:" + first.port())
                    .replace("@BACKEND2@", "127.0.0.1:" + second.port()));
            log.info("demo backends on 127.0.0.1:{} and 127.0.0.1:{}; demo config {}", first.port(), second.port(),
                    config);
            ApplianceNode one = null;
            ApplianceNode two = null;
            try {
                one = ApplianceNode.start(new NodeOptions(config, "demo1", workDir.resolve("demo1"), admin));
                ApplianceNode demo1 = one;
                if (!waitUntil(() -> "demo1".equals(demo1.status().vips().get(0).holder()), 15)) {
                    System.err.println("baton demo: demo1 did not become active");
                    return ExitCodes.FAILED;
                }
                if (!one.listenerProblems().isEmpty()) {
                    System.err.println("baton demo: some demo services cannot listen (is another demo running?):");
                    one.listenerProblems().forEach(problem -> System.err.println("  " + problem));
                    return ExitCodes.FAILED;
                }
                two = ApplianceNode.start(new NodeOptions(config, "demo2", workDir.resolve("demo2"), admin2));
                ApplianceNode demo2 = two;
                waitUntil(() -> demo2.status().nodes().stream().allMatch(node -> !node.role().equals("FAULT")), 15);
                awaitFirstVerdicts(one);
                showTraffic();
                printStatus(one);

                System.out.println("== Failover: stopping demo1, as `systemctl stop baton` would ==");
                long stopped = System.nanoTime();
                one.close();
                one = null;
                waitUntil(() -> "demo2".equals(demo2.status().vips().get(0).holder()), 15);
                System.out.println("demo2 holds the VIPs " + (System.nanoTime() - stopped) / 1_000_000
                        + " ms after demo1 began to stop");
                showTraffic();
                printStatus(two);
                if (once) {
                    return ExitCodes.OK;
                }
                one = ApplianceNode.start(new NodeOptions(config, "demo1", workDir.resolve("demo1"), admin));
                System.out.println("demo1 is back and stays passive (no preemption). The demo runs until Ctrl-C."
                        + " In another terminal try:");
                System.out.println("  ./baton status --admin " + admin2 + "        (demo2, active)");
                System.out.println("  ./baton status --admin " + admin + "        (demo1, passive)");
                System.out.println("  curl http://" + WEB_VIEWER + "/   (the web-viewer VIP, balanced over both backends)");
                System.out.println("  ./baton failover --admin " + admin2 + "      (hand the active role back)");
                System.out.println("  ./baton drain web-viewer viewer1 --admin " + admin2);
                String signal = Signals.awaitTermination();
                log.info("received SIG{}: stopping the demo", signal);
                return ExitCodes.OK;
            } catch (NodeStartException e) {
                System.err.println("baton demo: cannot start a demo node: " + e.getMessage());
                return ExitCodes.FAILED;
            } finally {
                if (one != null) {
                    one.close();
                }
                if (two != null) {
                    two.close();
                }
            }
        } finally {
            deleteRecursively(workDir);
        }
    }

    private static void printStatus(ApplianceNode node) throws NodeUnreachableException, JacksonException {
        AdminClient.Response response = new AdminClient(node.adminAddress()).get(AdminApi.STATUS);
        System.out.println();
        System.out.println("$ ./baton status --admin " + node.adminAddress());
        System.out.print(StatusTable.render(response.as(StatusReport.class)));
        System.out.println();
    }

    /** Polls {@code condition} every 50 ms for up to {@code seconds}; true once it holds. */
    private static boolean waitUntil(java.util.function.BooleanSupplier condition, int seconds)
            throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) {
                return true;
            }
            Thread.sleep(50);
        }
        return false;
    }

    /** Waits (a few seconds at most) until the health checks have judged every server. */
    private static void awaitFirstVerdicts(ApplianceNode node) throws InterruptedException {
        System.out.println("waiting for the first health checks ...");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(8);
        while (System.nanoTime() < deadline && node.health().snapshot().stream()
                .anyMatch(server -> server.state() == HealthState.UNKNOWN)) {
            Thread.sleep(100);
        }
    }

    /** Requests through the web-viewer VIP, to show the balancing. */
    private static void showTraffic() throws IOException, InterruptedException {
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(3)).build();
        System.out.println();
        for (int i = 0; i < 4; i++) {
            HttpResponse<String> response = client.send(HttpRequest.newBuilder(URI.create("http://" + WEB_VIEWER + "/"))
                    .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
            System.out.println("$ curl http://" + WEB_VIEWER + "/   ->  " + response.statusCode() + " "
                    + response.body().strip());
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return probe.getLocalPort();
        }
    }

    private static String template() throws IOException {
        try (InputStream in = DemoCommand.class.getResourceAsStream(TEMPLATE)) {
            if (in == null) {
                throw new IOException("the demo config " + TEMPLATE + " is missing from the jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static void deleteRecursively(Path dir) throws IOException {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        }
    }
}
