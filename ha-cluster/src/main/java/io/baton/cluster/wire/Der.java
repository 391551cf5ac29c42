package io.baton.cluster.wire;

import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The few pieces of DER (X.690) that a self-issued X.509 certificate needs: writing SEQUENCEs,
 * INTEGERs, OIDs, strings, times and BIT STRINGs, and reading back the one extension Baton puts
 * in its certificates. Every length read is checked against what is left before anything is
 * allocated.
 */
final class Der {

    static final int INTEGER = 0x02;
    static final int BIT_STRING = 0x03;
    static final int OCTET_STRING = 0x04;
    static final int OID = 0x06;
    static final int UTF8_STRING = 0x0c;
    static final int UTC_TIME = 0x17;
    static final int SEQUENCE = 0x30;
    static final int SET = 0x31;

    private Der() {
    }

    static byte[] tlv(int tag, byte[] value) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(value.length + 6);
        out.write(tag);
        int length = value.length;
        if (length < 0x80) {
            out.write(length);
        } else {
            int bytes = (32 - Integer.numberOfLeadingZeros(length) + 7) / 8;
            out.write(0x80 | bytes);
            for (int i = bytes - 1; i >= 0; i--) {
                out.write(length >>> (8 * i));
            }
        }
        out.writeBytes(value);
        return out.toByteArray();
    }

    static byte[] sequence(byte[]... parts) {
        return tlv(SEQUENCE, concat(parts));
    }

    static byte[] set(byte[]... parts) {
        return tlv(SET, concat(parts));
    }

    static byte[] integer(BigInteger value) {
        return tlv(INTEGER, value.toByteArray());
    }

    static byte[] utf8(String value) {
        return tlv(UTF8_STRING, value.getBytes(StandardCharsets.UTF_8));
    }

    static byte[] octets(byte[] value) {
        return tlv(OCTET_STRING, value);
    }

    /** A BIT STRING with no unused bits. */
    static byte[] bits(byte[] value) {
        byte[] withPad = new byte[value.length + 1];
        System.arraycopy(value, 0, withPad, 1, value.length);
        return tlv(BIT_STRING, withPad);
    }

    /** UTCTime, YYMMDDHHMMSSZ (valid for 1950-2049). */
    static byte[] utcTime(java.time.Instant at) {
        String text = java.time.format.DateTimeFormatter.ofPattern("yyMMddHHmmss'Z'")
                .withZone(java.time.ZoneOffset.UTC).format(at);
        return tlv(UTC_TIME, text.getBytes(StandardCharsets.US_ASCII));
    }

    /** An explicit context-specific tag around {@code inner}: {@code [n] EXPLICIT}. */
    static byte[] explicit(int n, byte[] inner) {
        return tlv(0xa0 | n, inner);
    }

    static byte[] oid(String dotted) {
        String[] arcs = dotted.split("\\.");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BigInteger first = new BigInteger(arcs[0]).multiply(BigInteger.valueOf(40)).add(new BigInteger(arcs[1]));
        base128(first, out);
        for (int i = 2; i < arcs.length; i++) {
            base128(new BigInteger(arcs[i]), out);
        }
        return tlv(OID, out.toByteArray());
    }

    private static void base128(BigInteger value, ByteArrayOutputStream out) {
        List<Integer> groups = new ArrayList<>();
        BigInteger rest = value;
        do {
            groups.add(rest.intValue() & 0x7f);
            rest = rest.shiftRight(7);
        } while (rest.signum() > 0);
        for (int i = groups.size() - 1; i >= 0; i--) {
            out.write(groups.get(i) | (i > 0 ? 0x80 : 0));
        }
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.writeBytes(part);
        }
        return out.toByteArray();
    }

    /** Reads DER elements one after another from a byte range; every error is a {@link MalformedDerException}. */
    static final class Reader {
        private final byte[] bytes;
        private int position;
        private final int end;

        Reader(byte[] bytes) {
            this(bytes, 0, bytes.length);
        }

        private Reader(byte[] bytes, int from, int end) {
            this.bytes = bytes;
            this.position = from;
            this.end = end;
        }

        boolean atEnd() {
            return position == end;
        }

        /** The value of the next element, which must carry {@code tag}. */
        byte[] next(int tag) throws MalformedDerException {
            int[] span = span(tag);
            return java.util.Arrays.copyOfRange(bytes, span[0], span[1]);
        }

        /** A reader over the value of the next element (a SEQUENCE, say), which must carry {@code tag}. */
        Reader inside(int tag) throws MalformedDerException {
            int[] span = span(tag);
            return new Reader(bytes, span[0], span[1]);
        }

        String utf8() throws MalformedDerException {
            byte[] value = next(UTF8_STRING);
            try {
                return StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(value)).toString();
            } catch (java.nio.charset.CharacterCodingException e) {
                throw new MalformedDerException("a UTF8String is not valid UTF-8");
            }
        }

        private int[] span(int tag) throws MalformedDerException {
            if (end - position < 2) {
                throw new MalformedDerException("ends where an element was expected");
            }
            int actual = bytes[position++] & 0xff;
            if (actual != tag) {
                throw new MalformedDerException("tag 0x" + Integer.toHexString(actual) + " where 0x"
                        + Integer.toHexString(tag) + " was expected");
            }
            int length = bytes[position++] & 0xff;
            if (length >= 0x80) {
                int count = length & 0x7f;
                if (count == 0 || count > 3 || end - position < count) {
                    throw new MalformedDerException("a length of " + count + " bytes");
                }
                length = 0;
                for (int i = 0; i < count; i++) {
                    length = (length << 8) | (bytes[position++] & 0xff);
                }
            }
            if (length > end - position) {
                throw new MalformedDerException("an element of " + length + " bytes where " + (end - position)
                        + " are left");
            }
            int from = position;
            position += length;
            return new int[] {from, position};
        }
    }

    static final class MalformedDerException extends Exception {
        MalformedDerException(String message) {
            super(message);
        }
    }
}
