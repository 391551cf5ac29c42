package io.baton.cluster.wire;

import io.baton.cluster.ClusterException;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * The keys of a key file as they are now: the file is looked at again (at most once a second)
 * whenever a handshake needs the keys, and every few seconds anyway (GuardedSocketFactory), so a
 * rotation takes effect, and is logged, without a restart. A file that
 * becomes unreadable or invalid keeps the last good keys in force, and says so once.
 */
public final class KeyFile implements Supplier<ClusterKeys> {

    private static final Logger LOG = LogManager.getLogger(KeyFile.class);
    private static final long LOOK_EVERY_NANOS = 1_000_000_000L;

    private final Path file;
    private ClusterKeys keys;
    private Object stamp;
    private long lookedAt;
    private String problem;

    /** Reads the file now: a node does not start on a bad key file. */
    public KeyFile(Path file) throws ClusterException {
        this.file = file;
        this.stamp = stamp(file);
        this.keys = ClusterKeys.read(file);
        this.lookedAt = System.nanoTime();
    }

    @Override
    public synchronized ClusterKeys get() {
        long now = System.nanoTime();
        if (now - lookedAt < LOOK_EVERY_NANOS) {
            return keys;
        }
        lookedAt = now;
        Object current = stamp(file);
        if (Objects.equals(current, stamp)) {
            return keys;
        }
        try {
            ClusterKeys reread = ClusterKeys.read(file);
            LOG.warn("cluster key file {} changed: keys {} (were {})", file, reread.ids(), keys.ids());
            keys = reread;
            stamp = current;
            problem = null;
        } catch (ClusterException e) {
            if (!e.getMessage().equals(problem)) {
                LOG.error("{}; the keys {} stay in force", e.getMessage(), keys.ids());
                problem = e.getMessage();
            }
        }
        return keys;
    }

    private static Object stamp(Path file) {
        try {
            BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
            return attributes.lastModifiedTime().toMillis() + "/" + attributes.size() + "/" + attributes.fileKey();
        } catch (IOException e) {
            return null;
        }
    }
}
