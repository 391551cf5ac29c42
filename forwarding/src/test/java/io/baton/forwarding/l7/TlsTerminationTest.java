package io.baton.forwarding.l7;

import io.baton.config.TestCertificates;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * TLS terminated by {@code l7-snat} services, met by real clients: curl and openssl s_client through
 * an HTTPS service (SNI, TLS versions, mutual TLS, a certificate renewed under a download), DCMTK's
 * echoscu and storescu with {@code +tls} through a DICOM TLS service to a plain storescp.
 */
@ExtendWith(NettyLeakCheck.class)
class TlsTerminationTest {

    @TempDir
    Path dir;

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final List<Process> processes = new ArrayList<>();
    private L7Engine engine;
    private int port;
    private Path[] viewer;
    private Path[] pacs;
    private Path[] modality;

    @BeforeEach
    void certificates() throws Exception {
        viewer = TestCertificates.selfSigned(dir, "viewer.test", "DNS:viewer.test", "ec");
        pacs = TestCertificates.selfSigned(dir, "pacs.test", "DNS:pacs.test,DNS:*.pacs.test", "rsa");
        modality = TestCertificates.selfSigned(dir, "modality", "DNS:modality", "ec");
        port = TestServers.freePort();
    }

    @AfterEach
    void stop() throws Exception {
        if (engine != null) {
            engine.close();
        }
        for (AutoCloseable closeable : closeables) {
            closeable.close();
        }
        for (Process process : processes) {
            process.destroy();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void anHttpsServicePicksItsCertificateBySniAndSpeaksTls12And13Only() throws Exception {
        TestServers.Http web = new TestServers.Http("web1");
        closeables.add(web);
        engine = TestServers.httpEngine(port, tls(""), servers(web.port()));

        String answer = run("curl", "-sS", "--cacert", viewer[0].toString(), "--resolve", "viewer.test:" + port
                + ":127.0.0.1", "https://viewer.test:" + port + "/");
        assertThat(answer).isEqualTo("web1 xff=127.0.0.1 proto=https\n");
        assertThat(run("curl", "-sS", "--cacert", pacs[0].toString(), "--resolve", "ris.pacs.test:" + port
                + ":127.0.0.1", "https://ris.pacs.test:" + port + "/")).as("a wildcard name").startsWith("web1");

        assertThat(sClient("-servername", "pacs.test", "-tls1_3")).contains("CN = pacs.test")
                .contains("Protocol version: TLSv1.3");
        assertThat(sClient("-servername", "viewer.test", "-tls1_2")).contains("CN = viewer.test")
                .contains("Protocol version: TLSv1.2");
        assertThat(sClient("-noservername")).as("no SNI: the first certificate").contains("CN = viewer.test");
        assertThat(sClient("-servername", "other.example")).as("an unknown name: the first").contains("CN = viewer.test");
        // the client offers TLS 1.1 only (allowed at security level 0): the service refuses the handshake
        assertThat(sClient("-servername", "viewer.test", "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"))
                .doesNotContain("Protocol version").doesNotContain("CN = viewer.test");

        // clear text to a TLS port: nothing of the servers comes back
        assertThat(attempt("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:" + port + "/"))
                .isEqualTo("000");
    }

    @Test
    void clientsThatDoNotSpeakTlsOrTooMuchOrTooSlowlyAreClosedAndTheServiceServesOn() throws Exception {
        TestServers.Http web = new TestServers.Http("web1");
        closeables.add(web);
        engine = TestServers.engine(port, "tcp", "", tls(""), servers(web.port()));

        // a handshake record that declares 64 KiB of ClientHello, and then sends it
        byte[] huge = new byte[5 + 65535];
        huge[0] = 0x16;
        huge[1] = 0x03;
        huge[2] = 0x01;
        huge[3] = (byte) 0xFF;
        huge[4] = (byte) 0xFF;
        huge[5] = 0x01;
        try (Socket flood = new Socket("127.0.0.1", port); Socket silent = new Socket("127.0.0.1", port);
             Socket garbage = new Socket("127.0.0.1", port)) {
            for (Socket socket : List.of(flood, silent, garbage)) {
                socket.setSoTimeout(30_000);
            }
            garbage.getOutputStream().write("A-ASSOCIATE-RQ in the clear\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            assertThat(garbage.getInputStream().read()).as("clear text: closed").isEqualTo(-1);
            try {
                flood.getOutputStream().write(huge);
            } catch (java.io.IOException closedUnderIt) {
                // closed before all of it was taken: what is wanted
            }
            assertThat(drained(flood)).as("an oversized ClientHello: closed").isTrue();
            // (within the 30 s read timeout, or the read fails the test)
            assertThat(silent.getInputStream().read()).as("no ClientHello: closed at the handshake timeout")
                    .isEqualTo(-1);
        }
        assertThat(run("curl", "-sS", "-k", "https://127.0.0.1:" + port + "/")).startsWith("web1");
    }

    /** Reads until the peer closes (true) or resets (true): a connection the service ended. */
    private static boolean drained(Socket socket) {
        try {
            while (socket.getInputStream().read() >= 0) {
                // an alert, then the end
            }
            return true;
        } catch (java.net.SocketException reset) {
            return true;
        } catch (java.io.IOException timedOut) {
            return false;
        }
    }

    @Test
    void mutualTlsRefusesAClientWithoutACertificateTheCaSigned() throws Exception {
        TestServers.Http web = new TestServers.Http("web1");
        closeables.add(web);
        engine = TestServers.httpEngine(port, tls("  client-ca: " + modality[0] + "\n"), servers(web.port()));
        String url = "https://viewer.test:" + port + "/";
        String resolve = "viewer.test:" + port + ":127.0.0.1";

        assertThat(attempt("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", viewer[0].toString(),
                "--resolve", resolve, url)).as("no client certificate").isEqualTo("000");
        assertThat(attempt("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", viewer[0].toString(),
                "--resolve", resolve, "--cert", pacs[0].toString(), "--key", pacs[1].toString(), url))
                .as("a certificate the CA did not sign").isEqualTo("000");
        assertThat(run("curl", "-sS", "--cacert", viewer[0].toString(), "--resolve", resolve, "--cert",
                modality[0].toString(), "--key", modality[1].toString(), url)).startsWith("web1");
    }

    @Test
    void aRenewedCertificateServesNewConnectionsWhileADownloadUnderTheOldOneCompletes() throws Exception {
        TestServers.Http web = new TestServers.Http("web1");
        closeables.add(web);
        Path served = dir.resolve("served.crt");
        Path servedKey = dir.resolve("served.key");
        Files.copy(viewer[0], served);
        Files.copy(viewer[1], servedKey);
        String keys = """
                tls:
                  certificates:
                    - { certificate: %s, key: %s }
                """.formatted(served, servedKey);
        engine = TestServers.httpEngine(port, keys, servers(web.port()));
        Path downloaded = dir.resolve("downloaded");
        Process download = start("curl", "-sS", "-k", "--limit-rate", "4M", "-o", downloaded.toString(),
                "https://127.0.0.1:" + port + "/big?12000000");
        await().atMost(Duration.ofSeconds(20)).until(() -> Files.exists(downloaded) && Files.size(downloaded) > 100_000);

        Path[] renewed = TestCertificates.selfSigned(dir, "viewer-renewed", "DNS:viewer.test", "ec");
        Files.move(renewed[0], served, StandardCopyOption.REPLACE_EXISTING);
        Files.move(renewed[1], servedKey, StandardCopyOption.REPLACE_EXISTING);
        assertThat(engine.apply(config(keys, web.port()))).isEmpty();

        assertThat(sClient("-servername", "viewer.test")).contains("CN = viewer-renewed");
        assertThat(download.isAlive()).as("the download is still under way").isTrue();
        assertThat(download.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(download.exitValue()).as(new String(download.getInputStream().readAllBytes())).isZero();
        assertThat(Files.size(downloaded)).isEqualTo(12_000_000);
    }

    @Test
    void reencryptionSpeaksTlsToTheServersAndChecksTheirCertificate() throws Exception {
        Path serverDir = Files.createDirectories(dir.resolve("server"));
        Path[] server = TestCertificates.selfSigned(serverDir, "real-server", "IP:127.0.0.1", "ec");
        int serverPort = TestServers.freePort();
        processes.add(TestServers.nginx(serverDir, serverPort, """
                listen 127.0.0.1:%d ssl;
                ssl_certificate %s;
                ssl_certificate_key %s;
                location / { return 200 "over $ssl_protocol\\n"; }
                """.formatted(serverPort, server[0], server[1])));
        String url = "https://127.0.0.1:" + port + "/";

        engine = TestServers.httpEngine(port, tls("  to-servers: { ca: " + server[0] + " }\n"), servers(serverPort));
        assertThat(run("curl", "-sS", "-k", url)).matches("over TLSv1\\.[23]\n");

        // a server whose certificate the CA did not sign gets no request
        assertThat(engine.apply(config(tls("  to-servers: { ca: " + viewer[0] + " }\n"), serverPort))).isEmpty();
        assertThat(attempt("curl", "-s", "-k", "-o", "/dev/null", "-w", "%{http_code}", url)).isEqualTo("502");

        assertThat(engine.apply(config(tls("  to-servers: { verify: false }\n"), serverPort))).isEmpty();
        assertThat(run("curl", "-sS", "-k", url)).matches("over TLSv1\\.[23]\n");
        engine.close();

        engine = TestServers.engine(port, "tcp", "", tls("  to-servers: { ca: " + server[0] + " }\n"),
                servers(serverPort));
        assertThat(run("curl", "-sS", "-k", url)).as("relayed in tcp").matches("over TLSv1\\.[23]\n");
    }

    @Test
    void aDicomTlsServiceCarriesEchoAndStoreToAPlainStorescp() throws Exception {
        int storescp = TestServers.freePort();
        Path received = Files.createDirectories(dir.resolve("received"));
        start("storescp", "-aet", "PACS", "-od", received.toString(), String.valueOf(storescp));
        TestServers.awaitListening(storescp);
        engine = TestServers.engine(port, "tcp", "", tls(""), servers(storescp));
        List<String> tls = List.of("+tls", modality[1].toString(), modality[0].toString(), "+cf", viewer[0].toString());

        List<String> echo = new ArrayList<>(List.of("echoscu", "-aec", "PACS"));
        echo.addAll(tls);
        echo.addAll(List.of("127.0.0.1", String.valueOf(port)));
        run(echo);

        byte[] pixels = new byte[64];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = (byte) (i * 4);
        }
        Path image = image(pixels);
        List<String> store = new ArrayList<>(List.of("storescu", "-aec", "PACS"));
        store.addAll(tls);
        store.addAll(List.of("127.0.0.1", String.valueOf(port), image.toString()));
        run(store);

        try (var files = Files.list(received)) {
            Path stored = files.findFirst().orElseThrow();
            byte[] bytes = Files.readAllBytes(stored);
            assertThat(Arrays.copyOfRange(bytes, bytes.length - pixels.length, bytes.length))
                    .as("the pixel data storescp received").isEqualTo(pixels);
        }
        // a plain (non-TLS) DICOM client gets no association through the TLS port
        Process plain = start("echoscu", "-aec", "PACS", "-to", "5", "127.0.0.1", String.valueOf(port));
        assertThat(plain.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(plain.exitValue()).isNotZero();
    }

    /** A secondary capture of 8x8 8-bit pixels, made with DCMTK's dump2dcm. */
    private Path image(byte[] pixels) throws Exception {
        StringBuilder hex = new StringBuilder();
        for (byte pixel : pixels) {
            hex.append(hex.length() == 0 ? "" : "\\").append(String.format("%02x", pixel & 0xFF));
        }
        Path dump = Files.writeString(dir.resolve("image.dump"), """
                (0008,0016) UI =SecondaryCaptureImageStorage
                (0008,0018) UI [1.2.826.0.1.3680043.2.1125.9.1]
                (0010,0010) PN [Test^Tls]
                (0020,000d) UI [1.2.826.0.1.3680043.2.1125.9]
                (0020,000e) UI [1.2.826.0.1.3680043.2.1125.9.2]
                (0028,0002) US 1
                (0028,0004) CS [MONOCHROME2]
                (0028,0010) US 8
                (0028,0011) US 8
                (0028,0100) US 8
                (0028,0101) US 8
                (0028,0102) US 7
                (0028,0103) US 0
                (7fe0,0010) OB %s
                """.formatted(hex));
        Path image = dir.resolve("image.dcm");
        run("dump2dcm", dump.toString(), image.toString());
        return image;
    }

    /** The service's tls keys: viewer.test first (the default), then pacs.test; {@code more} under tls. */
    private String tls(String more) {
        return """
                tls:
                  certificates:
                    - { certificate: %s, key: %s }
                    - { certificate: %s, key: %s }
                %s""".formatted(viewer[0], viewer[1], pacs[0], pacs[1], more).stripTrailing();
    }

    private static String servers(int serverPort) {
        return "[{ name: rs, address: 127.0.0.1:" + serverPort + " }]";
    }

    /** The http service's config with other service keys, for applying to the running engine. */
    private io.baton.config.BatonConfig config(String serviceKeys, int serverPort) throws Exception {
        return TestServers.config(port, "http", "", serviceKeys, servers(serverPort));
    }

    private String sClient(String... options) throws Exception {
        List<String> command = new ArrayList<>(List.of("openssl", "s_client", "-connect", "127.0.0.1:" + port, "-brief"));
        command.addAll(List.of(options));
        return attempt(command.toArray(String[]::new));
    }

    /** What a client that may fail printed, whatever its exit status. */
    private static String attempt(String... command) throws Exception {
        Process process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        String said = new String(process.getInputStream().readAllBytes());
        process.waitFor(30, TimeUnit.SECONDS);
        return said;
    }

    private Process start(String... command) throws Exception {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        processes.add(process);
        return process;
    }

    private static String run(String... command) throws Exception {
        return run(List.of(command));
    }

    private static String run(List<String> command) throws Exception {
        return TestCertificates.run(command);
    }
}
