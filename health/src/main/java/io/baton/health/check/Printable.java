package io.baton.health.check;

/** What a server sent, fit for a reason: printable ASCII kept, every other byte shown as a dot. */
final class Printable {

    private Printable() {
    }

    static String ascii(byte[] bytes, int offset, int length) {
        StringBuilder out = new StringBuilder(length);
        for (int i = offset; i < offset + length; i++) {
            byte b = bytes[i];
            out.append(b >= 0x20 && b < 0x7F ? (char) b : '.');
        }
        return out.toString();
    }
}
