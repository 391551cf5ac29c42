package io.baton.cluster.wire;

import io.baton.cluster.ClusterException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ClusterKeysTest {

    @TempDir
    Path dir;

    @Test
    void keygenWritesAnOwnerOnlyFileWithOneKeyThatReadsBack() throws Exception {
        Path file = dir.resolve("cluster.key");

        String id = ClusterKeys.generate(file);

        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        assertThat(ClusterKeys.read(file).ids()).containsExactly(id);
        assertThat(ClusterKeys.read(file).keys().get(0).secret()).hasSize(32);
        assertThatThrownBy(() -> ClusterKeys.generate(file)).isInstanceOf(FileAlreadyExistsException.class)
                .hasMessageContaining("--add");
    }

    @Test
    void aRotationAddsTheNewKeyThenDropsTheOld() throws Exception {
        Path file = dir.resolve("cluster.key");
        String old = ClusterKeys.generate(file);

        String added = ClusterKeys.add(file);
        assertThat(ClusterKeys.read(file).ids()).containsExactly(old, added);

        assertThat(ClusterKeys.dropOld(file)).isEqualTo(added);
        assertThat(ClusterKeys.read(file).ids()).containsExactly(added);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
    }

    @Test
    void aPassphraseOrRandomBytesOrAShortKeyAreNotKeys() throws Exception {
        assertThatThrownBy(() -> ClusterKeys.parse("f", "correct horse battery staple"))
                .isInstanceOf(ClusterException.class).hasMessageContaining("line 1 is not \"baton-cluster-key-1 <key>\"");
        String shortKey = "baton-cluster-key-1 " + Base64.getEncoder().encodeToString(new byte[16]);
        assertThatThrownBy(() -> ClusterKeys.parse("f", "# comment\n" + shortKey))
                .isInstanceOf(ClusterException.class).hasMessageContaining("line 2 holds a key of 16 bytes, not 32");
        assertThatThrownBy(() -> ClusterKeys.parse("f", "baton-cluster-key-1 !!!"))
                .isInstanceOf(ClusterException.class).hasMessageContaining("not base64");
        assertThatThrownBy(() -> ClusterKeys.parse("f", "# only a comment\n\n"))
                .isInstanceOf(ClusterException.class).hasMessageContaining("holds no key");
        Path binary = dir.resolve("random.key");
        Files.write(binary, new byte[] {(byte) 0xff, (byte) 0xfe, 0, 1, (byte) 0x80});
        Files.setPosixFilePermissions(binary, PosixFilePermissions.fromString("rw-------"));
        assertThatThrownBy(() -> ClusterKeys.read(binary)).isInstanceOf(ClusterException.class)
                .hasMessageContaining("not a Baton key file");
    }

    @Test
    void aKeyFileOthersCanReadIsRefused() throws Exception {
        Path file = dir.resolve("cluster.key");
        ClusterKeys.generate(file);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));

        assertThatThrownBy(() -> ClusterKeys.read(file)).isInstanceOf(ClusterException.class)
                .hasMessageContaining("chmod 600");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r-----"));
        assertThat(ClusterKeys.read(file).ids()).hasSize(1);
    }

    @Test
    void theKeyFileIsReadAgainWhenItChanges() throws Exception {
        Path file = dir.resolve("cluster.key");
        String old = ClusterKeys.generate(file);
        KeyFile keys = new KeyFile(file);
        assertThat(keys.get().ids()).containsExactly(old);

        String added = ClusterKeys.add(file);

        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5))
                .until(() -> keys.get().ids().equals(java.util.List.of(old, added)));
        Files.writeString(file, "garbage");
        org.awaitility.Awaitility.await().during(java.time.Duration.ofMillis(1500)).atMost(java.time.Duration.ofSeconds(3))
                .until(() -> keys.get().ids().equals(java.util.List.of(old, added)));
    }
}
