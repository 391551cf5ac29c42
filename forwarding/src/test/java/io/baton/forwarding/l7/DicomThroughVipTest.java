package io.baton.forwarding.l7;

import io.baton.config.ConfigParser;
import io.baton.forwarding.PersistenceTable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.File;
import java.io.IOException;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Real DICOM through the VIP: DCMTK's {@code storescu} sends images to two {@code storescp}
 * archives behind an {@code l7-snat tcp} service. DCMTK must be installed (run-tests installs it).
 */
@ExtendWith(NettyLeakCheck.class)
class DicomThroughVipTest {

    @TempDir
    Path work;

    /** 512 × 512 RGB pixels, the end of every file. */
    private static final int PIXEL_BYTES = 512 * 512 * 3;

    private final List<Process> processes = new ArrayList<>();
    private L7Engine engine;

    @AfterEach
    void stop() throws InterruptedException {
        if (engine != null) {
            engine.close();
        }
        for (Process process : processes) {
            process.destroy();
            process.waitFor(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void storescuThroughTheVipReachesBothArchivesIntact() throws Exception {
        Path image = dicomImage();
        int archive1 = TestServers.freePort();
        Path store1 = Files.createDirectories(work.resolve("archive1"));
        start("storescp", "+uf", "-od", store1.toString(), "-aet", "PACS", String.valueOf(archive1));
        int archive2 = TestServers.freePort();
        Path store2 = Files.createDirectories(work.resolve("archive2"));
        start("storescp", "+uf", "-od", store2.toString(), "-aet", "PACS", String.valueOf(archive2));
        awaitListening(archive1);
        awaitListening(archive2);
        int vipPort = TestServers.freePort();
        engine = new L7Engine(new PersistenceTable(Clock.systemUTC()), 2);
        assertThat(engine.apply(ConfigParser.parse("""
                cluster: { name: t, nodes: [{ id: n1, address: 127.0.0.1:7800 }] }
                vips: [{ name: v, address: 127.0.0.1/32, interface: lo }]
                services:
                  - name: pacs-dicom
                    vip: v
                    ports: [%d]
                    mode: l7-snat
                    l7: tcp
                    scheduler: rr
                    servers:
                      - { name: pacs1, address: 127.0.0.1:%d }
                      - { name: pacs2, address: 127.0.0.1:%d }
                """.formatted(vipPort, archive1, archive2), ConfigParser.Format.YAML))).isEmpty();

        for (int i = 0; i < 4; i++) {
            Process send = new ProcessBuilder("storescu", "-aec", "PACS", "127.0.0.1", String.valueOf(vipPort),
                    image.toString()).redirectErrorStream(true).start();
            String output = new String(send.getInputStream().readAllBytes());
            assertThat(send.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(send.exitValue()).as(output).isZero();
        }

        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            assertThat(received(store1)).hasSize(2);
            assertThat(received(store2)).hasSize(2);
        });
        byte[] pixels = tail(Files.readAllBytes(image), PIXEL_BYTES);
        for (Path file : Stream.concat(received(store1).stream(), received(store2).stream()).toList()) {
            // the archive writes its own file meta header; the image itself must arrive bit for bit
            assertThat(tail(Files.readAllBytes(file), PIXEL_BYTES)).as(file.toString()).isEqualTo(pixels);
        }
    }

    private static byte[] tail(byte[] bytes, int length) {
        return java.util.Arrays.copyOfRange(bytes, bytes.length - length, bytes.length);
    }

    /** A Secondary Capture image made from a generated bitmap with DCMTK's img2dcm. */
    private Path dicomImage() throws Exception {
        BufferedImage bitmap = new BufferedImage(512, 512, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 512; y++) {
            for (int x = 0; x < 512; x++) {
                bitmap.setRGB(x, y, (x * y) & 0xFFFFFF);
            }
        }
        File bmp = work.resolve("image.bmp").toFile();
        ImageIO.write(bitmap, "bmp", bmp);
        Path dicom = work.resolve("image.dcm");
        Process convert = new ProcessBuilder("img2dcm", "-i", "BMP", bmp.toString(), dicom.toString())
                .redirectErrorStream(true).start();
        String output = new String(convert.getInputStream().readAllBytes());
        assertThat(convert.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(convert.exitValue()).as("img2dcm: " + output).isZero();
        return dicom;
    }

    private void start(String... command) throws IOException {
        processes.add(new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(work.resolve(command[0] + "-" + processes.size() + ".log").toFile()).start());
    }

    private static void awaitListening(int port) {
        await().atMost(Duration.ofSeconds(10)).ignoreExceptions().until(() -> {
            try (Socket socket = new Socket("127.0.0.1", port)) {
                return true;
            }
        });
    }

    private static List<Path> received(Path store) throws IOException {
        try (Stream<Path> files = Files.list(store)) {
            return files.toList();
        }
    }
}
