package io.baton.appliance;

import io.baton.cluster.wire.ClusterKeys;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * {@code examples/pacs.yaml} moved onto loopback for tests that run nodes: every 10.20.x.x address
 * becomes 127.20.x.x (so checks, the witness and the cluster never leave this host), interfaces
 * become {@code lo}, the cluster ports are free ones, and the key file is a fresh random one.
 */
final class LoopbackExample {

    static final Path EXAMPLE = BatonProcess.repository().resolve("examples/pacs.yaml");

    private LoopbackExample() {
    }

    static Path write(Path dir) throws IOException {
        Path key = dir.resolve("cluster.key");
        ClusterKeys.generate(key);
        String yaml = Files.readString(EXAMPLE)
                .replace("10.20.0.11:7800", "127.0.0.1:" + TestHttp.freePort())
                .replace("10.20.0.12:7800", "127.0.0.1:" + TestHttp.freePort())
                .replace("/etc/baton/cluster.key", key.toString())
                .replace("interface: eth0", "interface: lo")
                .replace("10.20.", "127.20.");
        Path config = dir.resolve("pacs-loopback.yaml");
        Files.writeString(config, yaml);
        return config;
    }
}
