package io.baton.cluster;

import javax.crypto.SecretKey;
import javax.crypto.spec.SecretKeySpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The shared cluster key: an AES-256 key derived (SHA-256) from the bytes of the key file, so any
 * file of enough random bytes works, e.g. {@code head -c 32 /dev/urandom > /etc/baton/cluster.key}.
 */
public final class ClusterKey {

    /** Fewer bytes than this cannot be a serious secret. */
    static final int MIN_BYTES = 16;

    private ClusterKey() {
    }

    public static SecretKey read(Path file) throws ClusterException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new ClusterException("the cluster key file " + file + " does not exist; create it on every node"
                    + " with the same content (e.g. head -c 32 /dev/urandom > " + file + ")");
        } catch (IOException e) {
            throw new ClusterException("cannot read the cluster key file " + file + ": " + e.getMessage());
        }
        if (bytes.length < MIN_BYTES) {
            throw new ClusterException("the cluster key file " + file + " holds " + bytes.length + " bytes; at least "
                    + MIN_BYTES + " random bytes are needed");
        }
        try {
            return new SecretKeySpec(MessageDigest.getInstance("SHA-256").digest(bytes), "AES");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has SHA-256", e);
        }
    }
}
