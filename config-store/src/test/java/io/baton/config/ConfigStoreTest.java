package io.baton.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ConfigStoreTest {

    @TempDir
    Path dir;

    private final BatonConfig example = load();

    @Test
    void recoveryOnADirectoryThatHoldsNoStoreIsRefusedAndCreatesNothing() throws Exception {
        Path absent = dir.resolve("no-such-dir");
        Path empty = java.nio.file.Files.createDirectory(dir.resolve("empty"));

        assertThatThrownBy(() -> ConfigStore.openForRecovery(absent)).isInstanceOf(StoreException.class)
                .hasMessageContaining("no config store at " + absent + ": it does not exist");
        assertThatThrownBy(() -> ConfigStore.openForRecovery(empty)).isInstanceOf(StoreException.class)
                .hasMessageContaining("holds no revision files");
        assertThat(java.nio.file.Files.exists(absent)).isFalse();
        try (var left = java.nio.file.Files.list(empty)) {
            assertThat(left).isEmpty();
        }
    }

    @Test
    void revisionsGoUpAndSurviveReopening() throws Exception {
        try (ConfigStore store = ConfigStore.open(dir)) {
            assertThat(store.current()).isEmpty();
            assertThat(store.apply(example, "test").revision()).isEqualTo(1);
            assertThat(store.apply(withWeight(7), "test").revision()).isEqualTo(2);
        }
        try (ConfigStore store = ConfigStore.open(dir)) {
            StoredConfig current = store.current().orElseThrow();
            assertThat(current.revision()).isEqualTo(2);
            assertThat(current.config()).isEqualTo(withWeight(7));
            assertThat(current.checksum()).isEqualTo(ConfigWriter.checksum(withWeight(7)));
        }
    }

    @Test
    void applyingTheSameConfigAgainKeepsTheRevision() throws Exception {
        try (ConfigStore store = ConfigStore.open(dir)) {
            store.apply(example, "test");
            assertThat(store.apply(example, "again").revision()).isEqualTo(1);
            assertThat(store.revisions()).hasSize(1);
        }
    }

    @Test
    void onlyTheLastTenRevisionsAreKept() throws Exception {
        try (ConfigStore store = ConfigStore.open(dir)) {
            for (int weight = 1; weight <= 13; weight++) {
                store.apply(withWeight(weight), "test");
            }
            assertThat(store.revisions()).extracting(RevisionInfo::revision)
                    .containsExactly(4L, 5L, 6L, 7L, 8L, 9L, 10L, 11L, 12L, 13L);
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(path -> path.getFileName().toString()).filter(name -> name.endsWith(".tmp")))
                    .isEmpty();
        }
    }

    @Test
    void aTruncatedAppliedRevisionStopsTheStartAndNamesTheFileAndLastGoodRevision() throws Exception {
        try (ConfigStore store = ConfigStore.open(dir)) {
            store.apply(example, "test");
            store.apply(withWeight(7), "test");
        }
        Path newest = dir.resolve("revision-0000000002.json");
        byte[] bytes = Files.readAllBytes(newest);
        Files.write(newest, java.util.Arrays.copyOf(bytes, bytes.length / 2));

        assertThatThrownBy(() -> ConfigStore.open(dir))
                .isInstanceOf(CorruptStoreException.class)
                .hasMessageContaining(newest.toString())
                .hasMessageContaining("truncated")
                .hasMessageContaining("The last good revision is 1")
                .hasMessageContaining("baton config rollback 1 --store " + dir);
    }

    @Test
    void aTamperedConfigFailsItsChecksum() throws Exception {
        try (ConfigStore store = ConfigStore.open(dir)) {
            store.apply(example, "test");
        }
        Path file = dir.resolve("revision-0000000001.json");
        Files.writeString(file, Files.readString(file).replace("10.20.1.21:443", "10.20.1.29:443"));

        assertThatThrownBy(() -> ConfigStore.open(dir))
                .isInstanceOf(CorruptStoreException.class)
                .hasMessageContaining("does not match the recorded")
                .hasMessageContaining("No intact revision is kept");
    }

    @Test
    void rollbackRepairsADamagedStoreAsANewRevision() throws Exception {
        try (ConfigStore store = ConfigStore.open(dir)) {
            store.apply(example, "test");
            store.apply(withWeight(7), "test");
        }
        Files.writeString(dir.resolve("revision-0000000002.json"), "{\"revision\": 2, \"chec");

        try (ConfigStore store = ConfigStore.openForRecovery(dir)) {
            assertThat(store.revisions()).extracting(RevisionInfo::intact).containsExactly(true, false);
            StoredConfig restored = store.rollback(1);
            assertThat(restored.revision()).isEqualTo(3);
            assertThat(restored.source()).isEqualTo("rollback to 1");
        }
        try (ConfigStore store = ConfigStore.open(dir)) {
            assertThat(store.current().orElseThrow().config()).isEqualTo(example);
            assertThat(store.current().orElseThrow().revision()).isEqualTo(3);
        }
        assertThat(dir.resolve("revision-0000000002.json.corrupt")).exists();
    }

    @Test
    void rollbackToARevisionThatIsNotKeptSaysWhichAre() throws Exception {
        try (ConfigStore store = ConfigStore.open(dir)) {
            store.apply(example, "test");
            assertThatThrownBy(() -> store.rollback(9))
                    .isInstanceOf(StoreException.class)
                    .hasMessageContaining("revision 9 is not kept")
                    .hasMessageContaining("kept: 1");
        }
    }

    @Test
    void aSecondProcessCannotOpenAStoreInUse() throws Exception {
        try (ConfigStore store = ConfigStore.open(dir)) {
            assertThatThrownBy(() -> ConfigStore.open(dir))
                    .isInstanceOf(StoreLockedException.class)
                    .hasMessageContaining("in use by a running node");
        }
        try (ConfigStore reopened = ConfigStore.open(dir)) {
            assertThat(reopened.current()).isEmpty();
        }
    }

    @Test
    void leftoversOfAnInterruptedWriteAreIgnoredAndRemoved() throws Exception {
        try (ConfigStore store = ConfigStore.open(dir)) {
            store.apply(example, "test");
        }
        Path leftover = dir.resolve(".revision-0000000002.json.tmp");
        Files.writeString(leftover, "{\"revision\": 2");

        try (ConfigStore store = ConfigStore.open(dir)) {
            assertThat(store.current().orElseThrow().revision()).isEqualTo(1);
        }
        assertThat(leftover).doesNotExist();
    }

    @Test
    void aReplicatedRevisionKeepsItsNumberAndMustBeNewer() throws Exception {
        try (ConfigStore store = ConfigStore.open(dir)) {
            store.apply(example, "test");
            assertThat(store.applyReplicated(withWeight(3), 7, "replicated from lb2").revision()).isEqualTo(7);
            assertThat(store.apply(withWeight(4), "test").revision()).isEqualTo(8);
            assertThatThrownBy(() -> store.applyReplicated(withWeight(5), 8, "late"))
                    .isInstanceOf(StoreException.class)
                    .hasMessageContaining("not newer");
        }
    }

    private BatonConfig withWeight(int weight) {
        VirtualService first = example.services().get(0);
        RealServer server = first.servers().get(0);
        RealServer changed = server.withWeight(weight);
        VirtualService service = first.withServers(List.of(changed, first.servers().get(1)));
        return example.withServices(Stream.concat(Stream.of(service), example.services().stream().skip(1)).toList());
    }

    private static BatonConfig load() {
        try {
            return ConfigParser.parseFile(ConfigParserTest.EXAMPLE);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
