package io.baton.config;

import java.util.Optional;

/** Strict dotted-quad IPv4 parsing: no host names, no shorthand, no leading zeros. */
public final class Ipv4 {

    private Ipv4() {
    }

    /** The address as a 32-bit number, or empty if {@code text} is not a dotted-quad IPv4 address. */
    public static Optional<Integer> parse(String text) {
        String[] parts = text.split("\\.", -1);
        if (parts.length != 4) {
            return Optional.empty();
        }
        int value = 0;
        for (String part : parts) {
            if (part.isEmpty() || part.length() > 3 || !part.chars().allMatch(Character::isDigit)
                    || (part.length() > 1 && part.charAt(0) == '0')) {
                return Optional.empty();
            }
            int octet = Integer.parseInt(part);
            if (octet > 255) {
                return Optional.empty();
            }
            value = (value << 8) | octet;
        }
        return Optional.of(value);
    }

    public static boolean isValid(String text) {
        return parse(text).isPresent();
    }
}
