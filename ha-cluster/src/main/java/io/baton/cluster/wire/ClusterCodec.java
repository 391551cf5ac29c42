package io.baton.cluster.wire;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Cluster messages as bytes: {@code version(1) type(1) fields...}, big-endian, strings as a
 * length and UTF-8. The decoder checks every length against its field's bound and against what is
 * left before it allocates anything, rejects unknown versions and types, values out of range,
 * truncation and trailing bytes, and says which field was wrong.
 */
public final class ClusterCodec {

    /** The version this node writes and the only one it reads (2: a member's info says where it drains). */
    public static final int VERSION = 2;
    static final int INFO = 1;
    static final int DECISION = 2;
    static final int CONFIG_REQUEST = 3;
    static final int CONFIG = 4;
    static final int PINS = 5;
    static final int HEAD = 6;
    static final int PROPOSE = 7;
    static final int ANSWER = 8;
    static final int VERDICTS = 9;
    static final int STATE_CHANGE = 10;
    static final int SERVER_STATES = 11;
    static final int STATES_REQUEST = 12;
    static final int AUDIT = 13;
    /** Revisions a member lists in its {@link ClusterMessage.Head}: more than a store keeps. */
    public static final int MAX_KEPT = 64;
    /** Members named in an answer, and config errors listed in it. */
    static final int MAX_NODES = 64;
    /** MACs a member lists: one per VIP interface. */
    static final int MAX_MACS = 32;
    static final int MAX_ERRORS = 512;
    /** The highest history state number. */
    static final int MAX_STATE = 15;
    /** Pins per message: a few tens of kilobytes, well inside one frame. */
    public static final int MAX_PINS = 500;
    /** No persistence timeout is longer than a year. */
    static final long MAX_TTL_MILLIS = 366L * 24 * 3600 * 1000;

    /** Node ids and short reasons. */
    static final int MAX_NAME = 256;
    static final int MAX_REASON = 2048;
    /** A config of hundreds of services is well under a megabyte as JSON. */
    public static final int MAX_CONFIG = 4 * 1024 * 1024;
    /** The largest message this codec reads or writes. */
    public static final int MAX_MESSAGE = MAX_CONFIG + 8192;

    private ClusterCodec() {
    }

    public static byte[] encode(ClusterMessage message) {
        Writer out = new Writer();
        out.u8(VERSION);
        if (message instanceof ClusterMessage.Info info) {
            out.u8(INFO);
            out.u8(info.priority());
            out.i64(info.revision());
            out.bool(info.ready());
            out.bool(info.holding());
            out.optionalString(info.unready(), MAX_REASON);
            out.i64(info.epoch());
            out.count(info.macs().size(), MAX_MACS);
            for (String mac : info.macs()) {
                out.string(mac, MAX_NAME);
            }
            out.bool(info.booting());
            out.count(info.serving().size(), MAX_MACS);
            for (java.util.Map.Entry<String, String> entry : new java.util.TreeMap<>(info.serving()).entrySet()) {
                out.string(entry.getKey(), MAX_NAME);
                out.string(entry.getValue(), MAX_NAME);
            }
        } else if (message instanceof ClusterMessage.Decided decided) {
            out.u8(DECISION);
            out.optionalString(decided.active(), MAX_NAME);
            out.i64(decided.epoch());
            out.string(decided.reason() == null ? "" : decided.reason(), MAX_REASON);
            out.bool(decided.merged());
            out.i64(decided.movedAt());
            out.optionalString(decided.movedFrom(), MAX_NAME);
        } else if (message instanceof ClusterMessage.ConfigRequest) {
            out.u8(CONFIG_REQUEST);
        } else if (message instanceof ClusterMessage.StatesRequest) {
            out.u8(STATES_REQUEST);
        } else if (message instanceof ClusterMessage.Config config) {
            out.u8(CONFIG);
            out.i64(config.revision());
            out.string(config.checksum(), MAX_NAME);
            out.string(config.source(), MAX_REASON);
            out.string(config.json(), MAX_CONFIG);
        } else if (message instanceof ClusterMessage.Verdicts batch) {
            out.u8(VERDICTS);
            out.count(batch.verdicts().size(), MAX_PINS);
            for (ClusterMessage.Verdict verdict : batch.verdicts()) {
                out.string(verdict.service(), MAX_NAME);
                out.string(verdict.server(), MAX_NAME);
                out.bool(verdict.up());
            }
        } else if (message instanceof ClusterMessage.StateChange change) {
            out.u8(STATE_CHANGE);
            out.i64(change.id());
            out.string(change.service(), MAX_NAME);
            out.string(change.server(), MAX_NAME);
            out.string(change.state(), MAX_NAME);
            out.string(change.source(), MAX_REASON);
        } else if (message instanceof ClusterMessage.ServerStates map) {
            out.u8(SERVER_STATES);
            out.i64(map.version());
            out.count(map.states().size(), ClusterMessage.ServerStates.MAX);
            for (ClusterMessage.StateEntry entry : map.states()) {
                out.string(entry.service(), MAX_NAME);
                out.string(entry.server(), MAX_NAME);
                out.string(entry.state(), MAX_NAME);
                out.string(entry.at(), MAX_NAME);
                out.string(entry.source(), MAX_REASON);
            }
        } else if (message instanceof ClusterMessage.Audit audit) {
            out.u8(AUDIT);
            out.count(audit.entries().size(), ClusterMessage.Audit.MAX);
            for (ClusterMessage.AuditRecord entry : audit.entries()) {
                out.string(entry.id(), MAX_NAME);
                out.string(entry.at(), MAX_NAME);
                out.string(entry.node(), MAX_NAME);
                out.string(entry.action(), MAX_NAME);
                out.i64(entry.revision());
                out.string(entry.caller(), MAX_NAME);
                out.string(entry.peer(), MAX_NAME);
                out.string(entry.reason(), MAX_REASON);
                out.string(entry.summary(), MAX_REASON);
            }
        } else if (message instanceof ClusterMessage.Head head) {
            out.u8(HEAD);
            out.i64(head.revision());
            out.string(head.checksum(), MAX_NAME);
            out.count(head.kept().size(), MAX_KEPT);
            for (ClusterMessage.Revision revision : head.kept()) {
                out.i64(revision.number());
                out.string(revision.checksum(), MAX_NAME);
            }
            out.u8(head.state());
            out.optionalString(head.reason(), MAX_REASON);
            out.i64(head.failedRevision());
        } else if (message instanceof ClusterMessage.Propose propose) {
            out.u8(PROPOSE);
            out.i64(propose.id());
            out.i64(propose.rollbackTo());
            out.string(propose.json(), MAX_CONFIG);
            out.string(propose.source(), MAX_REASON);
        } else if (message instanceof ClusterMessage.Answer answer) {
            out.u8(ANSWER);
            out.i64(answer.id());
            out.u8(answer.outcome());
            out.i64(answer.revision());
            out.string(answer.checksum(), MAX_NAME);
            out.bool(answer.changed());
            out.string(answer.message(), MAX_REASON);
            out.notes(answer.errors(), MAX_ERRORS);
            out.count(answer.stored().size(), MAX_NODES);
            for (String node : answer.stored()) {
                out.string(node, MAX_NAME);
            }
            out.notes(answer.refused(), MAX_NODES);
            out.count(answer.pending().size(), MAX_NODES);
            for (String node : answer.pending()) {
                out.string(node, MAX_NAME);
            }
        } else if (message instanceof ClusterMessage.Pins batch) {
            if (batch.pins().size() > MAX_PINS) {
                throw new IllegalArgumentException(batch.pins().size() + " pins, at most " + MAX_PINS);
            }
            out.u8(PINS);
            out.u8(batch.pins().size() >>> 8);
            out.u8(batch.pins().size());
            for (ClusterMessage.Pin pin : batch.pins()) {
                out.string(pin.service(), MAX_NAME);
                out.string(pin.client(), MAX_NAME);
                out.string(pin.server(), MAX_NAME);
                out.i64(pin.ttlMillis());
            }
        } else {
            throw new IllegalArgumentException("no encoding for " + message);
        }
        return out.bytes();
    }

    public static ClusterMessage decode(byte[] bytes, int offset, int length) throws MalformedMessageException {
        if (length > MAX_MESSAGE) {
            throw new MalformedMessageException(length + " bytes, more than the " + MAX_MESSAGE + " a message may have");
        }
        Reader in = new Reader(bytes, offset, length);
        int version = in.u8("version");
        if (version != VERSION) {
            throw new MalformedMessageException("version " + version + "; this node speaks version " + VERSION);
        }
        int type = in.u8("type");
        ClusterMessage message = switch (type) {
            case INFO -> new ClusterMessage.Info(in.range("priority", in.u8("priority"), 1, 255),
                    in.nonNegative("revision"), in.bool("ready"), in.bool("holding"),
                    in.optionalString("unready", MAX_REASON), in.nonNegative("epoch"), macs(in),
                    in.bool("booting"), serving(in));
            case DECISION -> new ClusterMessage.Decided(in.optionalString("active", MAX_NAME),
                    in.nonNegative("epoch"), in.string("reason", MAX_REASON), in.bool("merged"),
                    in.nonNegative("moved-at"), in.optionalString("moved-from", MAX_NAME));
            case CONFIG_REQUEST -> new ClusterMessage.ConfigRequest();
            case CONFIG -> new ClusterMessage.Config(in.range("revision", in.nonNegative("revision"), 1, Long.MAX_VALUE),
                    in.string("checksum", MAX_NAME), in.string("source", MAX_REASON), in.string("config", MAX_CONFIG));
            case PINS -> pins(in);
            case HEAD -> head(in);
            case PROPOSE -> new ClusterMessage.Propose(in.nonNegative("id"), in.nonNegative("rollback-to"),
                    in.string("config", MAX_CONFIG), in.string("source", MAX_REASON));
            case ANSWER -> answer(in);
            case VERDICTS -> verdicts(in);
            case STATE_CHANGE -> new ClusterMessage.StateChange(in.nonNegative("id"), in.string("service", MAX_NAME),
                    in.string("server", MAX_NAME), in.string("state", MAX_NAME), in.string("source", MAX_REASON));
            case SERVER_STATES -> serverStates(in);
            case STATES_REQUEST -> new ClusterMessage.StatesRequest();
            case AUDIT -> audit(in);
            default -> throw new MalformedMessageException("unknown type " + type);
        };
        in.end();
        return message;
    }

    private static ClusterMessage.Pins pins(Reader in) throws MalformedMessageException {
        int count = (in.u8("count") << 8) | in.u8("count");
        if (count > MAX_PINS) {
            throw new MalformedMessageException("field count is " + count + ", at most " + MAX_PINS);
        }
        java.util.List<ClusterMessage.Pin> pins = new java.util.ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            pins.add(new ClusterMessage.Pin(in.string("pins[" + i + "].service", MAX_NAME),
                    in.string("pins[" + i + "].client", MAX_NAME), in.string("pins[" + i + "].server", MAX_NAME),
                    in.range("pins[" + i + "].ttl", in.i64("pins[" + i + "].ttl"), 1, MAX_TTL_MILLIS)));
        }
        return new ClusterMessage.Pins(pins);
    }

    private static java.util.List<String> macs(Reader in) throws MalformedMessageException {
        int count = in.count("macs", MAX_MACS);
        java.util.List<String> macs = new java.util.ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            macs.add(in.string("macs[" + i + "]", MAX_NAME));
        }
        return macs;
    }

    /** A Linux interface name (at most 15 bytes): it goes into nft rules, so nothing else is let through. */
    static final java.util.regex.Pattern INTERFACE = java.util.regex.Pattern.compile("[A-Za-z0-9_.@-]{1,15}");
    static final java.util.regex.Pattern MAC = java.util.regex.Pattern.compile("[0-9a-f]{2}(:[0-9a-f]{2}){5}");

    private static java.util.Map<String, String> serving(Reader in) throws MalformedMessageException {
        int count = in.count("serving", MAX_MACS);
        java.util.Map<String, String> serving = new java.util.TreeMap<>();
        for (int i = 0; i < count; i++) {
            String iface = in.string("serving[" + i + "].interface", MAX_NAME);
            String mac = in.string("serving[" + i + "].mac", MAX_NAME);
            if (!INTERFACE.matcher(iface).matches()) {
                throw new MalformedMessageException("serving[" + i + "].interface is no interface name");
            }
            if (!MAC.matcher(mac).matches()) {
                throw new MalformedMessageException("serving[" + i + "].mac is no MAC address (lower-case hex)");
            }
            if (serving.put(iface, mac) != null) {
                throw new MalformedMessageException("serving[" + i + "].interface " + iface + " twice");
            }
        }
        return serving;
    }

    private static ClusterMessage.ServerStates serverStates(Reader in) throws MalformedMessageException {
        long version = in.nonNegative("version");
        int count = in.count("count", ClusterMessage.ServerStates.MAX);
        java.util.List<ClusterMessage.StateEntry> entries = new java.util.ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            String field = "states[" + i + "]";
            entries.add(new ClusterMessage.StateEntry(in.string(field + ".service", MAX_NAME),
                    in.string(field + ".server", MAX_NAME), in.string(field + ".state", MAX_NAME),
                    in.string(field + ".at", MAX_NAME), in.string(field + ".source", MAX_REASON)));
        }
        return new ClusterMessage.ServerStates(version, entries);
    }

    private static ClusterMessage.Audit audit(Reader in) throws MalformedMessageException {
        int count = in.count("count", ClusterMessage.Audit.MAX);
        java.util.List<ClusterMessage.AuditRecord> entries = new java.util.ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            String field = "entries[" + i + "]";
            entries.add(new ClusterMessage.AuditRecord(in.string(field + ".id", MAX_NAME),
                    in.string(field + ".at", MAX_NAME), in.string(field + ".node", MAX_NAME),
                    in.string(field + ".action", MAX_NAME), in.nonNegative(field + ".revision"),
                    in.string(field + ".caller", MAX_NAME), in.string(field + ".peer", MAX_NAME),
                    in.string(field + ".reason", MAX_REASON), in.string(field + ".summary", MAX_REASON)));
        }
        return new ClusterMessage.Audit(entries);
    }

    private static ClusterMessage.Verdicts verdicts(Reader in) throws MalformedMessageException {
        int count = in.count("count", MAX_PINS);
        java.util.List<ClusterMessage.Verdict> verdicts = new java.util.ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            verdicts.add(new ClusterMessage.Verdict(in.string("verdicts[" + i + "].service", MAX_NAME),
                    in.string("verdicts[" + i + "].server", MAX_NAME), in.bool("verdicts[" + i + "].up")));
        }
        return new ClusterMessage.Verdicts(verdicts);
    }

    private static ClusterMessage.Head head(Reader in) throws MalformedMessageException {
        long revision = in.nonNegative("revision");
        String checksum = in.string("checksum", MAX_NAME);
        int count = in.count("kept", MAX_KEPT);
        java.util.List<ClusterMessage.Revision> kept = new java.util.ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            kept.add(new ClusterMessage.Revision(in.nonNegative("kept[" + i + "].number"),
                    in.string("kept[" + i + "].checksum", MAX_NAME)));
        }
        return new ClusterMessage.Head(revision, checksum, kept, in.range("state", in.u8("state"), 0, MAX_STATE),
                in.optionalString("reason", MAX_REASON), in.nonNegative("failed-revision"));
    }

    private static ClusterMessage.Answer answer(Reader in) throws MalformedMessageException {
        long id = in.nonNegative("id");
        int outcome = in.range("outcome", in.u8("outcome"), 0, ClusterMessage.Answer.FAILED);
        long revision = in.nonNegative("revision");
        String checksum = in.string("checksum", MAX_NAME);
        boolean changed = in.bool("changed");
        String message = in.string("message", MAX_REASON);
        java.util.List<ClusterMessage.Note> errors = in.notes("errors", MAX_ERRORS);
        java.util.List<String> stored = in.names("stored");
        java.util.List<ClusterMessage.Note> refused = in.notes("refused", MAX_NODES);
        java.util.List<String> pending = in.names("pending");
        return new ClusterMessage.Answer(id, outcome, revision, checksum, changed, message, errors, stored, refused,
                pending);
    }

    private static final class Writer {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream(64);

        void u8(int value) {
            out.write(value);
        }

        void bool(boolean value) {
            out.write(value ? 1 : 0);
        }

        void i64(long value) {
            for (int shift = 56; shift >= 0; shift -= 8) {
                out.write((int) (value >>> shift));
            }
        }

        void string(String value, int max) {
            byte[] utf8 = value.getBytes(StandardCharsets.UTF_8);
            if (utf8.length > max) {
                throw new IllegalArgumentException("a string of " + utf8.length + " bytes, at most " + max);
            }
            for (int shift = 24; shift >= 0; shift -= 8) {
                out.write(utf8.length >>> shift);
            }
            out.writeBytes(utf8);
        }

        void count(int count, int max) {
            if (count > max) {
                throw new IllegalArgumentException(count + " items, at most " + max);
            }
            u8(count >>> 8);
            u8(count);
        }

        void notes(java.util.List<ClusterMessage.Note> notes, int max) {
            count(notes.size(), max);
            for (ClusterMessage.Note note : notes) {
                string(note.subject(), MAX_NAME);
                string(note.text(), MAX_REASON);
            }
        }

        void optionalString(String value, int max) {
            bool(value != null);
            if (value != null) {
                string(value, max);
            }
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }

    private static final class Reader {
        private final byte[] bytes;
        private int position;
        private final int end;

        Reader(byte[] bytes, int offset, int length) {
            this.bytes = bytes;
            this.position = offset;
            this.end = offset + length;
        }

        private void need(int count, String field) throws MalformedMessageException {
            if (end - position < count) {
                throw new MalformedMessageException("ends inside field " + field);
            }
        }

        int u8(String field) throws MalformedMessageException {
            need(1, field);
            return bytes[position++] & 0xff;
        }

        boolean bool(String field) throws MalformedMessageException {
            int value = u8(field);
            if (value > 1) {
                throw new MalformedMessageException("field " + field + " is " + value + ", not 0 or 1");
            }
            return value == 1;
        }

        long i64(String field) throws MalformedMessageException {
            need(8, field);
            long value = 0;
            for (int i = 0; i < 8; i++) {
                value = (value << 8) | (bytes[position++] & 0xff);
            }
            return value;
        }

        long nonNegative(String field) throws MalformedMessageException {
            long value = i64(field);
            if (value < 0) {
                throw new MalformedMessageException("field " + field + " is negative (" + value + ")");
            }
            return value;
        }

        <T extends Number> T range(String field, T value, long min, long max) throws MalformedMessageException {
            if (value.longValue() < min || value.longValue() > max) {
                throw new MalformedMessageException("field " + field + " is " + value + ", outside " + min + ".." + max);
            }
            return value;
        }

        String string(String field, int max) throws MalformedMessageException {
            need(4, field);
            long length = 0;
            for (int i = 0; i < 4; i++) {
                length = (length << 8) | (bytes[position++] & 0xff);
            }
            if (length > max) {
                throw new MalformedMessageException("field " + field + " declares " + length + " bytes, at most " + max);
            }
            need((int) length, field);
            try {
                String value = StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(ByteBuffer.wrap(bytes, position, (int) length)).toString();
                position += (int) length;
                return value;
            } catch (CharacterCodingException e) {
                throw new MalformedMessageException("field " + field + " is not valid UTF-8");
            }
        }

        int count(String field, int max) throws MalformedMessageException {
            int count = (u8(field) << 8) | u8(field);
            if (count > max) {
                throw new MalformedMessageException("field " + field + " counts " + count + ", at most " + max);
            }
            return count;
        }

        java.util.List<ClusterMessage.Note> notes(String field, int max) throws MalformedMessageException {
            int count = count(field, max);
            java.util.List<ClusterMessage.Note> notes = new java.util.ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                notes.add(new ClusterMessage.Note(string(field + "[" + i + "].subject", MAX_NAME),
                        string(field + "[" + i + "].text", MAX_REASON)));
            }
            return notes;
        }

        java.util.List<String> names(String field) throws MalformedMessageException {
            int count = count(field, MAX_NODES);
            java.util.List<String> names = new java.util.ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                names.add(string(field + "[" + i + "]", MAX_NAME));
            }
            return names;
        }

        String optionalString(String field, int max) throws MalformedMessageException {
            return bool(field + " (present)") ? string(field, max) : null;
        }

        void end() throws MalformedMessageException {
            if (position != end) {
                throw new MalformedMessageException((end - position) + " bytes after the last field");
            }
        }
    }
}
