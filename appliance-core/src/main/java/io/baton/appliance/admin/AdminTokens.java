package io.baton.appliance.admin;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The admin API's tokens, from a file of this node's own (never from the replicated config): one
 * token a line, {@code NAME ROLE SECRET}, where ROLE is {@code admin} (every request) or
 * {@code read} (GET only: monitoring), and SECRET at least {@value #MIN_SECRET} characters (make one
 * with {@code baton token NAME ROLE}). Blank lines and lines starting with {@code #} are skipped.
 * Like an SSH key, the file must be readable by its owner only. Secrets are compared in constant
 * time, as digests.
 */
public final class AdminTokens {

    /** What a token may do. */
    public enum Role {
        /** Everything, changes included. */
        ADMIN,
        /** Reading only: status, config, revisions, metrics. */
        READ
    }

    /** Who called: a token's name and role, or the local operator of a loopback API without tokens. */
    public record Caller(String name, Role role) {
        /** The caller of an API on loopback without a token file: whoever can reach loopback on this host. */
        public static final Caller LOCAL = new Caller("local", Role.ADMIN);
    }

    static final int MIN_SECRET = 32;
    /** A token file of thousands of lines is a mistake, not a configuration. */
    static final int MAX_TOKENS = 1000;
    private static final long MAX_FILE_BYTES = 1 << 20;
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
    private static final Pattern SECRET = Pattern.compile("[\\x21-\\x7e]+");

    private record Entry(Caller caller, byte[] digest) {
    }

    private final List<Entry> entries;

    private AdminTokens(List<Entry> entries) {
        this.entries = List.copyOf(entries);
    }

    /** Reads {@code file}; the exception's message names the file, the line and what is wrong. */
    public static AdminTokens load(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException("admin token file " + file + " does not exist or is not a regular file");
        }
        Set<PosixFilePermission> permissions;
        try {
            permissions = Files.getPosixFilePermissions(file);
        } catch (UnsupportedOperationException e) {
            permissions = Set.of();
        }
        Set<PosixFilePermission> open = new HashSet<>(permissions);
        open.retainAll(Set.of(PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE,
                PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE));
        if (!open.isEmpty()) {
            throw new IOException("admin token file " + file + " is readable or writable by others ("
                    + java.nio.file.attribute.PosixFilePermissions.toString(permissions)
                    + "): make it its owner's only (chmod 600 " + file + ")");
        }
        if (Files.size(file) > MAX_FILE_BYTES) {
            throw new IOException("admin token file " + file + " is larger than " + MAX_FILE_BYTES + " bytes");
        }
        return parse(Files.readString(file, StandardCharsets.UTF_8), file.toString());
    }

    /** Parses a token file's text; {@code source} names it in errors. */
    static AdminTokens parse(String text, String source) throws IOException {
        List<Entry> entries = new ArrayList<>();
        Set<String> names = new HashSet<>();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String where = source + " line " + (i + 1) + ": ";
            String[] fields = line.split("\\s+");
            if (fields.length != 3) {
                throw new IOException(where + "expected NAME ROLE SECRET, found " + fields.length + " field(s)");
            }
            if (!NAME.matcher(fields[0]).matches()) {
                throw new IOException(where + "token name \"" + shorten(fields[0])
                        + "\" must be 1-64 letters, digits, '.', '_' or '-'");
            }
            if (!names.add(fields[0])) {
                throw new IOException(where + "token name \"" + fields[0] + "\" is used twice");
            }
            Role role = switch (fields[1]) {
                case "admin" -> Role.ADMIN;
                case "read" -> Role.READ;
                default -> throw new IOException(where + "role \"" + shorten(fields[1]) + "\" is neither admin nor read");
            };
            if (fields[2].length() < MIN_SECRET || !SECRET.matcher(fields[2]).matches()) {
                throw new IOException(where + "the secret of token \"" + fields[0] + "\" must be at least " + MIN_SECRET
                        + " printable characters (make one with `baton token " + fields[0] + " " + fields[1] + "`)");
            }
            if (entries.size() == MAX_TOKENS) {
                throw new IOException(source + ": more than " + MAX_TOKENS + " tokens");
            }
            entries.add(new Entry(new Caller(fields[0], role), digest(fields[2])));
        }
        if (entries.isEmpty()) {
            throw new IOException("admin token file " + source + " has no token (expected lines of NAME ROLE SECRET)");
        }
        return new AdminTokens(entries);
    }

    /** The caller whose secret {@code secret} is; every token is compared, each in constant time. */
    public Optional<Caller> authenticate(String secret) {
        if (secret == null || secret.isEmpty()) {
            return Optional.empty();
        }
        byte[] offered = digest(secret);
        Caller found = null;
        for (Entry entry : entries) {
            if (MessageDigest.isEqual(entry.digest(), offered)) {
                found = entry.caller();
            }
        }
        return Optional.ofNullable(found);
    }

    public List<String> names() {
        return entries.stream().map(entry -> entry.caller().name()).toList();
    }

    /** A new token line for a token file: {@code NAME ROLE SECRET} with 256 random bits. */
    public static String newLine(String name, Role role) {
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("token name \"" + shorten(name)
                    + "\" must be 1-64 letters, digits, '.', '_' or '-'");
        }
        byte[] random = new byte[32];
        new SecureRandom().nextBytes(random);
        return name + " " + role.name().toLowerCase(java.util.Locale.ROOT) + " " + HexFormat.of().formatHex(random);
    }

    private static byte[] digest(String secret) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("no SHA-256 in this JVM", e);
        }
    }

    private static String shorten(String text) {
        return text.length() > 40 ? text.substring(0, 40) + "…" : text;
    }
}
