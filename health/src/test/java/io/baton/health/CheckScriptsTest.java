package io.baton.health;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What an external check may run, on a real file system: only what lies in the trusted directory. */
class CheckScriptsTest {

    @TempDir
    Path root;

    private Path trusted;
    private Path elsewhere;
    private CheckScripts scripts;

    @BeforeEach
    void directories() throws Exception {
        trusted = Files.createDirectory(root.resolve("checks"));
        elsewhere = Files.createDirectory(root.resolve("elsewhere"));
        scripts = new CheckScripts(trusted);
    }

    @Test
    void aScriptInTheDirectoryIsFoundByNameOrPath() throws Exception {
        Path script = executable(trusted.resolve("pacs.sh"), "rwxr-xr-x");
        Files.createDirectory(trusted.resolve("dicom"));
        Path nested = executable(trusted.resolve("dicom/echo.sh"), "rwx------");
        Files.createSymbolicLink(trusted.resolve("alias.sh"), script); // a link that stays inside is fine

        assertThat(scripts.resolve("pacs.sh").path()).isEqualTo(script.toRealPath());
        assertThat(scripts.resolve(script.toString()).path()).isEqualTo(script.toRealPath());
        assertThat(scripts.resolve("dicom/echo.sh").path()).isEqualTo(nested.toRealPath());
        assertThat(scripts.resolve("alias.sh").path()).isEqualTo(script.toRealPath());
    }

    @Test
    void nothingOutsideTheDirectoryRunsHoweverItIsNamed() throws Exception {
        Path outside = executable(elsewhere.resolve("evil.sh"), "rwxr-xr-x");
        Files.createSymbolicLink(trusted.resolve("link.sh"), outside);
        Files.createSymbolicLink(trusted.resolve("sub"), elsewhere);

        assertThatThrownBy(() -> scripts.resolve(outside.toString())).hasMessageContaining("outside the trusted");
        assertThatThrownBy(() -> scripts.resolve("/bin/sh")).hasMessageContaining("outside the trusted");
        assertThatThrownBy(() -> scripts.resolve("../elsewhere/evil.sh")).hasMessageContaining("outside the trusted");
        assertThatThrownBy(() -> scripts.resolve(trusted + "/../elsewhere/evil.sh"))
                .hasMessageContaining("outside the trusted");
        assertThatThrownBy(() -> scripts.resolve("link.sh")).hasMessageContaining("symbolic link out");
        assertThatThrownBy(() -> scripts.resolve("sub/evil.sh")).hasMessageContaining("symbolic link out");
        assertThatThrownBy(() -> scripts.resolve("")).hasMessageContaining("empty");
        assertThatThrownBy(() -> scripts.resolve("bad\u0000name")).hasMessageContaining("not a path");
    }

    @Test
    void aScriptOthersMayChangeOrThatCannotRunIsRefused() throws Exception {
        executable(trusted.resolve("shared.sh"), "rwxrwxr-x");
        executable(trusted.resolve("world.sh"), "rwxr-xrwx");
        executable(trusted.resolve("plain.txt"), "rw-r--r--");
        Files.createDirectory(trusted.resolve("dir.sh"));

        assertThatThrownBy(() -> scripts.resolve("shared.sh")).hasMessageContaining("chmod go-w");
        assertThatThrownBy(() -> scripts.resolve("world.sh")).hasMessageContaining("chmod go-w");
        assertThatThrownBy(() -> scripts.resolve("plain.txt")).hasMessageContaining("not an executable file");
        assertThatThrownBy(() -> scripts.resolve("dir.sh")).hasMessageContaining("not an executable file");
        assertThatThrownBy(() -> scripts.resolve("missing.sh")).hasMessageContaining("not there");
        assertThatThrownBy(() -> new CheckScripts(root.resolve("none")).resolve("x.sh"))
                .hasMessageContaining("does not exist on this node");
    }

    @Test
    void aCheckOfAScriptOutsideIsDownWithTheReasonAndRunsNothing() throws Exception {
        Path marker = root.resolve("ran");
        Path outside = elsewhere.resolve("touch.sh");
        Files.writeString(outside, "#!/bin/sh\ntouch " + marker + "\n");
        Files.setPosixFilePermissions(outside, PosixFilePermissions.fromString("rwxr-xr-x"));

        io.baton.config.HealthCheck settings = io.baton.config.ConfigParser.parse("""
                cluster: { name: t, nodes: [{ id: n, address: 127.0.0.1:7800 }] }
                vips: [{ name: v, address: 127.0.0.100/32, interface: lo }]
                services:
                  - { name: s, vip: v, ports: [80], mode: l7-snat, check: { type: external, script: '%s' },
                      servers: [{ name: r, address: 127.0.0.1:1 }] }
                """.formatted(outside), io.baton.config.ConfigParser.Format.YAML).services().get(0).check();
        CheckResult result = Checks.run(io.baton.health.check.Checker.of(settings.type(), scripts),
                new CheckTarget("s", "r", "127.0.0.100", 80, "127.0.0.1", 1, settings));

        assertThat(result.up()).isFalse();
        assertThat(result.reason()).contains("not run").contains("outside the trusted check directory");
        assertThat(marker).doesNotExist();
    }

    private static Path executable(Path file, String permissions) throws Exception {
        Files.writeString(file, "#!/bin/sh\nexit 0\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(permissions));
        return file;
    }
}
