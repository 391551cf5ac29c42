package io.baton.cluster.wire;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

/** The cluster codec from bytes: every message round-trips, every malformed input is refused with its reason. */
class ClusterCodecTest {

    private static final List<ClusterMessage> EVERY_KIND = List.of(
            new ClusterMessage.Info(200, 7, true, false, null, 3),
            new ClusterMessage.Info(1, 0, false, true, "has no link on eth0 — é", Long.MAX_VALUE),
            new ClusterMessage.Info(100, 3, true, true, null, 2, List.of("02:42:ac:11:00:02", "02:42:ac:11:00:03")),
            new ClusterMessage.Info(150, 1, true, false, null, 0, List.of(), true),
            new ClusterMessage.Info(100, 4, false, false, "is stopping", 5, List.of("02:42:ac:11:00:02"), false,
                    java.util.Map.of("eth0", "02:42:ac:11:00:02", "bond0.12", "02:42:ac:11:00:03")),
            new ClusterMessage.Decided("lb1", 9, "lb2 left the cluster", false),
            new ClusterMessage.Decided(null, 0, "", true),
            new ClusterMessage.Decided("lb2", 4, "lb1 left the cluster", false, 1_764_000_000_000L, "lb1"),
            new ClusterMessage.ConfigRequest(),
            new ClusterMessage.StatesRequest(),
            new ClusterMessage.Config(12, "{\"cluster\":{\"name\":\"c\"}}"),
            new ClusterMessage.Config(13, "sha256:ab", "admin-api on n1", "{}"),
            new ClusterMessage.Head(13, "sha256:ab", List.of(new ClusterMessage.Revision(12, "sha256:aa"),
                    new ClusterMessage.Revision(13, "sha256:ab")), 3, "revision 13 is sha256:ab here", 14),
            new ClusterMessage.Head(0, "", List.of(), 0, null, 0),
            new ClusterMessage.Propose(7, 0, "{\"cluster\":{}}", "admin-api on n2"),
            new ClusterMessage.Propose(8, 5, "", "rollback to 5"),
            new ClusterMessage.Answer(7, ClusterMessage.Answer.APPLIED, 14, "sha256:ac", true, "",
                    List.of(), List.of("n1", "n2"), List.of(new ClusterMessage.Note("n3", "has no interface eth9")),
                    List.of("n4")),
            new ClusterMessage.Answer(8, ClusterMessage.Answer.INVALID, 0, "", false, "2 errors",
                    List.of(new ClusterMessage.Note("services[0].ports", "must not be empty")), List.of(), List.of(),
                    List.of()),
            new ClusterMessage.Pins(List.of(new ClusterMessage.Pin("hl7", "10.1.2.0/24", "engine1", 1_800_000),
                    new ClusterMessage.Pin("dicom", "10.1.3.7", "pacs2", 1))),
            new ClusterMessage.Pins(List.of()),
            new ClusterMessage.Verdicts(List.of(new ClusterMessage.Verdict("pacs", "pacs2", false),
                    new ClusterMessage.Verdict("hl7", "engine1", true))),
            new ClusterMessage.StateChange(1L << 60, "pacs", "pacs1", "drain", "admin-api on n1"),
            new ClusterMessage.ServerStates(3, List.of(new ClusterMessage.StateEntry("pacs", "pacs1", "drain",
                    "2026-12-01T10:00:00Z", "admin-api on n1"))),
            new ClusterMessage.Audit(List.of(new ClusterMessage.AuditRecord("n1-1764583200000-1",
                    "2026-12-01T10:00:00Z", "n1", "drain", 14, "ops", "10.0.0.5:41000", "PACS 2 firmware update",
                    "pacs/pacs1: drain"), new ClusterMessage.AuditRecord("n2-1764583260000-1", "2026-12-01T10:01:00Z",
                    "n2", "apply", 15, "local", "127.0.0.1:5000", "", "services: +hl7"))),
            new ClusterMessage.Audit(List.of()));

    @Test
    void everyMessageRoundTrips() throws Exception {
        for (ClusterMessage message : EVERY_KIND) {
            byte[] bytes = ClusterCodec.encode(message);
            assertThat(bytes[0]).as("version first").isEqualTo((byte) ClusterCodec.VERSION);
            assertThat(ClusterCodec.decode(bytes, 0, bytes.length)).isEqualTo(message);
        }
    }

    @Test
    void decodesWithinALargerBuffer() throws Exception {
        byte[] bytes = ClusterCodec.encode(EVERY_KIND.get(2));
        byte[] padded = new byte[bytes.length + 10];
        System.arraycopy(bytes, 0, padded, 5, bytes.length);

        assertThat(ClusterCodec.decode(padded, 5, bytes.length)).isEqualTo(EVERY_KIND.get(2));
    }

    @Test
    void anotherVersionOrAnUnknownTypeIsRefused() {
        byte[] info = ClusterCodec.encode(EVERY_KIND.get(0));
        info[0] = 1;
        assertRefused(info, "version 1; this node speaks version 2");
        byte[] unknown = {ClusterCodec.VERSION, 99};
        assertRefused(unknown, "unknown type 99");
        assertRefused(new byte[0], "ends inside field version");
        assertRefused(new byte[] {ClusterCodec.VERSION}, "ends inside field type");
    }

    @Test
    void everyTruncationIsRefusedNamingTheField() {
        for (ClusterMessage message : EVERY_KIND) {
            byte[] bytes = ClusterCodec.encode(message);
            for (int length = 0; length < bytes.length; length++) {
                int cut = length;
                assertThatThrownBy(() -> ClusterCodec.decode(bytes, 0, cut))
                        .as("%s cut to %d bytes", message, cut)
                        .isInstanceOf(MalformedMessageException.class)
                        .hasMessageContaining("ends inside field");
            }
        }
    }

    @Test
    void trailingBytesAreRefused() {
        byte[] bytes = ClusterCodec.encode(new ClusterMessage.ConfigRequest());
        byte[] longer = Arrays.copyOf(bytes, bytes.length + 3);

        assertRefused(longer, "3 bytes after the last field");
    }

    @Test
    void aDeclaredLengthBeyondTheBoundOrTheBytesIsRefusedBeforeAnythingIsAllocated() {
        // a config that declares 2 GiB, in a 20-byte message: refused on the number, not on a failed allocation
        ByteBuffer huge = ByteBuffer.allocate(22).put((byte) ClusterCodec.VERSION).put((byte) ClusterCodec.PROPOSE).putLong(5)
                .putLong(0).putInt(Integer.MAX_VALUE);
        assertRefused(huge.array(), "field config declares 2147483647 bytes, at most " + ClusterCodec.MAX_CONFIG);
        ByteBuffer negative = ByteBuffer.allocate(22).put((byte) ClusterCodec.VERSION).put((byte) ClusterCodec.PROPOSE).putLong(5)
                .putLong(0).putInt(-1);
        assertRefused(negative.array(), "field config declares 4294967295 bytes");
        ByteBuffer beyond = ByteBuffer.allocate(28).put((byte) ClusterCodec.VERSION).put((byte) ClusterCodec.PROPOSE).putLong(5)
                .putLong(0).putInt(100).put(new byte[6]);
        assertRefused(beyond.array(), "ends inside field config");
        ByteBuffer manyKept = ByteBuffer.allocate(24).put((byte) ClusterCodec.VERSION).put((byte) ClusterCodec.HEAD).putLong(5)
                .putInt(0).putShort((short) 65_535);
        assertRefused(manyKept.array(), "field kept counts 65535, at most " + ClusterCodec.MAX_KEPT);
        ByteBuffer longReason = ByteBuffer.allocate(20).put((byte) ClusterCodec.VERSION).put((byte) ClusterCodec.DECISION)
                .put((byte) 0).putLong(1).putInt(ClusterCodec.MAX_REASON + 1);
        assertRefused(longReason.array(), "field reason declares 2049 bytes, at most 2048");
    }

    @Test
    void pinsBeyondTheirCountOrWithANonsenseLifetimeAreRefused() {
        ByteBuffer tooMany = ByteBuffer.allocate(4).put((byte) ClusterCodec.VERSION).put((byte) ClusterCodec.PINS)
                .putShort((short) (ClusterCodec.MAX_PINS + 1));
        assertRefused(tooMany.array(), "field count is 501, at most 500");
        byte[] pins = ClusterCodec.encode(new ClusterMessage.Pins(List.of(new ClusterMessage.Pin("s", "c", "r", 5))));
        byte[] zero = pins.clone();
        zero[zero.length - 1] = 0;
        assertRefused(zero, "field pins[0].ttl is 0");
        byte[] forever = pins.clone();
        forever[forever.length - 8] = 0x7f;
        assertRefused(forever, "field pins[0].ttl is");
    }

    @Test
    void aMessageLargerThanAnyMessageMayBeIsRefusedUnread() {
        assertThatThrownBy(() -> ClusterCodec.decode(new byte[16], 0, ClusterCodec.MAX_MESSAGE + 1))
                .isInstanceOf(MalformedMessageException.class)
                .hasMessageContaining("more than the " + ClusterCodec.MAX_MESSAGE);
    }

    @Test
    void valuesOutOfRangeAreRefused() {
        byte[] info = ClusterCodec.encode(new ClusterMessage.Info(100, 3, true, false, null, 1));
        byte[] zeroPriority = info.clone();
        zeroPriority[2] = 0;
        assertRefused(zeroPriority, "field priority is 0, outside 1..255");
        byte[] negativeRevision = info.clone();
        negativeRevision[3] = (byte) 0x80;
        assertRefused(negativeRevision, "field revision is negative");
        byte[] notABoolean = info.clone();
        notABoolean[11] = 2;
        assertRefused(notABoolean, "field ready is 2, not 0 or 1");
        byte[] bootingNotABoolean = info.clone();
        bootingNotABoolean[info.length - 3] = 7; // then the count of drained interfaces (two bytes)
        assertRefused(bootingNotABoolean, "field booting is 7, not 0 or 1");
        byte[] revisionZero = ClusterCodec.encode(new ClusterMessage.Config(1, "{}"));
        revisionZero[9] = 0;
        assertRefused(revisionZero, "field revision is 0, outside 1..");
    }

    /** The interfaces and MACs a node says it drains go into the new holder's nft rules: nothing else passes. */
    @Test
    void aDrainThatIsNoInterfaceAndMacIsRefused() throws Exception {
        java.util.Map<String, String> good = java.util.Map.of("eth0", "02:42:ac:11:00:02");
        for (var bad : List.of(java.util.Map.of("eth0\"; flush ruleset; \"", "02:42:ac:11:00:02"),
                java.util.Map.of("a-much-too-long-name", "02:42:ac:11:00:02"), java.util.Map.of("", "02:42:ac:11:00:02"),
                java.util.Map.of("eth0", "02:42:AC:11:00:02"), java.util.Map.of("eth0", "02:42:ac:11:00"),
                java.util.Map.of("eth0", "02:42:ac:11:00:02 fwd to lo"))) {
            byte[] bytes = ClusterCodec.encode(new ClusterMessage.Info(100, 1, true, false, null, 1, List.of(), false,
                    bad));
            assertThatThrownBy(() -> ClusterCodec.decode(bytes, 0, bytes.length)).as("%s", bad)
                    .isInstanceOf(MalformedMessageException.class).hasMessageContaining("serving[0].");
        }
        byte[] fine = ClusterCodec.encode(new ClusterMessage.Info(100, 1, true, false, null, 1, List.of(), false, good));
        assertThat(ClusterCodec.decode(fine, 0, fine.length)).isInstanceOf(ClusterMessage.Info.class);
    }

    @Test
    void invalidUtf8IsRefused() {
        byte[] decided = ClusterCodec.encode(new ClusterMessage.Decided("lb1", 1, "ok", false));
        int reasonAt = decided.length - 3 - 9; // "ok", then merged, moved-at and moved-from (absent)
        decided[reasonAt] = (byte) 0xc3;
        decided[reasonAt + 1] = (byte) 0x28;
        assertRefused(decided, "field reason is not valid UTF-8");
    }

    @Test
    void randomBytesAndMutationsAreEitherAMessageOrARefusalNeverAnotherError() {
        Random random = new Random(11);
        for (int round = 0; round < 20_000; round++) {
            byte[] bytes;
            if (round % 2 == 0) {
                bytes = ClusterCodec.encode(EVERY_KIND.get(random.nextInt(EVERY_KIND.size())));
                for (int flips = 1 + random.nextInt(4); flips > 0; flips--) {
                    bytes[random.nextInt(bytes.length)] = (byte) random.nextInt(256);
                }
            } else {
                bytes = new byte[random.nextInt(40)];
                random.nextBytes(bytes);
                if (bytes.length > 0) {
                    bytes[0] = (byte) ClusterCodec.VERSION;
                }
            }
            try {
                ClusterCodec.decode(bytes, 0, bytes.length);
            } catch (MalformedMessageException expected) {
                assertThat(expected.getMessage()).isNotBlank();
            } catch (RuntimeException e) {
                fail("decoding " + Arrays.toString(bytes) + " threw " + e);
            }
        }
    }

    private static void assertRefused(byte[] bytes, String reason) {
        assertThatThrownBy(() -> ClusterCodec.decode(bytes, 0, bytes.length))
                .isInstanceOf(MalformedMessageException.class)
                .hasMessageContaining(reason);
    }
}
