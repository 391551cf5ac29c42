package io.baton.cluster.wire;

import io.baton.cluster.ClusterException;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;

/**
 * The cluster key file: one or more 256-bit random keys, one per line, as {@code baton keygen}
 * writes them. Every key in the file is accepted from peers; a node vouches for itself with all
 * of them, so that during a rotation (old and new key in the file) it is trusted by nodes that
 * still have only the old one and by nodes that already have only the new one.
 */
public final class ClusterKeys {

    /** The tag at the start of every key line; the number is the key format's version. */
    static final String LINE_TAG = "baton-cluster-key-1";
    static final int KEY_BYTES = 32;
    /** Two during a rotation; more is a file nobody cleaned up. */
    static final int MAX_KEYS = 4;

    /** One key and its short public id (for logs and status: which keys a node holds). */
    public record Key(String id, byte[] secret) {
        @Override
        public String toString() {
            return id;
        }
    }

    private final List<Key> keys;

    private ClusterKeys(List<Key> keys) {
        this.keys = List.copyOf(keys);
    }

    public List<Key> keys() {
        return keys;
    }

    /** The ids of the keys, in file order (the newest last). */
    public List<String> ids() {
        return keys.stream().map(Key::id).toList();
    }

    /** A key that exists only in this process: a node alone in its cluster needs no shared key. */
    public static ClusterKeys ephemeral() {
        return new ClusterKeys(List.of(key(random())));
    }

    /** Reads and checks a key file; the message of a refusal says what to do. */
    public static ClusterKeys read(Path file) throws ClusterException {
        String text;
        try {
            checkPermissions(file);
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new ClusterException("the cluster key file " + file + " does not exist; make it on one node with"
                    + " `baton keygen " + file + "` and copy it to every node");
        } catch (AccessDeniedException e) {
            throw new ClusterException("cannot read the cluster key file " + file + ": permission denied");
        } catch (java.nio.charset.MalformedInputException e) {
            throw new ClusterException("the cluster key file " + file + " is not a Baton key file (it is not text);"
                    + " make one with `baton keygen " + file + "`");
        } catch (IOException e) {
            throw new ClusterException("cannot read the cluster key file " + file + ": " + e.getMessage());
        }
        return parse(file.toString(), text);
    }

    static ClusterKeys parse(String name, String text) throws ClusterException {
        List<Key> keys = new ArrayList<>();
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] parts = line.split("\\s+");
            if (parts.length != 2 || !parts[0].equals(LINE_TAG)) {
                throw new ClusterException("the cluster key file " + name + " is not a Baton key file (line " + (i + 1)
                        + " is not \"" + LINE_TAG + " <key>\"); make one with `baton keygen FILE`");
            }
            byte[] secret;
            try {
                secret = Base64.getDecoder().decode(parts[1]);
            } catch (IllegalArgumentException e) {
                throw new ClusterException("the cluster key file " + name + ": line " + (i + 1)
                        + " holds no valid key (not base64)");
            }
            if (secret.length != KEY_BYTES) {
                throw new ClusterException("the cluster key file " + name + ": line " + (i + 1) + " holds a key of "
                        + secret.length + " bytes, not " + KEY_BYTES + "; make one with `baton keygen FILE`");
            }
            keys.add(key(secret));
        }
        if (keys.isEmpty()) {
            throw new ClusterException("the cluster key file " + name + " holds no key; make one with"
                    + " `baton keygen FILE`");
        }
        if (keys.size() > MAX_KEYS) {
            throw new ClusterException("the cluster key file " + name + " holds " + keys.size() + " keys, at most "
                    + MAX_KEYS + " (a rotation needs two: the old and the new)");
        }
        return new ClusterKeys(keys);
    }

    /** Others than the owner (and its group) must not read the key. */
    private static void checkPermissions(Path file) throws IOException, ClusterException {
        Set<PosixFilePermission> permissions;
        try {
            permissions = Files.getPosixFilePermissions(file);
        } catch (UnsupportedOperationException e) {
            return;
        }
        if (permissions.contains(PosixFilePermission.OTHERS_READ) || permissions.contains(PosixFilePermission.OTHERS_WRITE)) {
            throw new ClusterException("the cluster key file " + file + " is open to every user (mode "
                    + PosixFilePermissions.toString(permissions) + "); run: chmod 600 " + file);
        }
    }

    /**
     * Writes a new key file (mode 0600) with one new key; refuses to overwrite an existing file.
     *
     * @return the id of the new key
     */
    public static String generate(Path file) throws IOException {
        if (Files.exists(file)) {
            throw new FileAlreadyExistsException(file + " exists; to rotate keys use --add, to replace it remove"
                    + " it first");
        }
        Key key = key(random());
        write(file, "# Baton cluster key, made by `baton keygen` on " + Instant.now() + ".\n"
                + "# The same file goes on every node of the cluster (mode 0600). During a key rotation it holds\n"
                + "# two keys: every key listed here is accepted.\n" + line(key));
        return key.id();
    }

    /**
     * Adds a new key to an existing key file: the first step of a rotation.
     *
     * @return the id of the new key
     */
    public static String add(Path file) throws IOException, ClusterException {
        ClusterKeys existing = read(file);
        if (existing.keys.size() >= MAX_KEYS) {
            throw new ClusterException(file + " holds " + existing.keys.size() + " keys already; drop the old"
                    + " ones first (baton keygen --drop-old " + file + ")");
        }
        Key key = key(random());
        String before = Files.readString(file, StandardCharsets.UTF_8);
        write(file, before + (before.endsWith("\n") ? "" : "\n") + "# added " + Instant.now() + "\n" + line(key));
        return key.id();
    }

    private static String line(Key key) {
        return LINE_TAG + " " + Base64.getEncoder().encodeToString(key.secret()) + "\n";
    }

    /** Keeps only the newest (last) key: the last step of a rotation. */
    public static String dropOld(Path file) throws IOException, ClusterException {
        ClusterKeys existing = read(file);
        Key newest = existing.keys.get(existing.keys.size() - 1);
        write(file, "# Baton cluster key; older keys dropped on " + Instant.now() + ".\n" + line(newest));
        return newest.id();
    }

    private static void write(Path file, String content) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Path temporary;
        try {
            temporary = Files.createTempFile(dir, ".baton-key-", ".tmp",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } catch (UnsupportedOperationException e) {
            temporary = Files.createTempFile(dir, ".baton-key-", ".tmp");
        }
        try {
            Files.writeString(temporary, content, StandardCharsets.UTF_8);
            Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(temporary);
        }
    }

    /** HMAC-SHA256 of {@code data} under {@code key}. */
    static byte[] mac(Key key, byte[] data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key.secret(), "HmacSHA256"));
            return mac.doFinal(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("every Java runtime has HmacSHA256", e);
        }
    }

    /** True when {@code tag} is the MAC of {@code data} under {@code key} (compared in constant time). */
    static boolean verifies(Key key, byte[] data, byte[] tag) {
        return MessageDigest.isEqual(mac(key, data), tag);
    }

    private static Key key(byte[] secret) {
        byte[] tag = mac(new Key("", secret), "baton key id".getBytes(StandardCharsets.US_ASCII));
        return new Key(HexFormat.of().formatHex(tag, 0, 4), secret.clone());
    }

    private static byte[] random() {
        byte[] secret = new byte[KEY_BYTES];
        new SecureRandom().nextBytes(secret);
        return secret;
    }
}
