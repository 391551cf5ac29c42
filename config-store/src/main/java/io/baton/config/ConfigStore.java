package io.baton.config;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The applied configuration on disk, one file per revision ({@code revision-0000000042.json}), each
 * holding the canonical config with its revision and checksum. Revisions only go up; the newest
 * intact file is the applied config; the last {@value #KEPT_REVISIONS} are kept for rollback.
 *
 * <p>A write goes to a temporary file, is fsynced, atomically renamed into place, and the directory
 * is fsynced, so a crash leaves either the old or the new revision, never half of one. A store is
 * held by one process at a time (a lock file), so an offline rollback cannot race a running node.
 */
public final class ConfigStore implements AutoCloseable {

    public static final int KEPT_REVISIONS = 10;

    private static final Logger LOG = LogManager.getLogger(ConfigStore.class);
    private static final Pattern REVISION_FILE = Pattern.compile("revision-(\\d{10})\\.json(\\.corrupt)?");
    private static final String LOCK_FILE = "store.lock";
    /** One JSON line per revision ever stored here and per revision set aside: never pruned. */
    public static final String HISTORY_FILE = "history.log";
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final Path directory;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private StoredConfig current;
    private long highestRevision;

    private ConfigStore(Path directory, FileChannel lockChannel, FileLock lock) {
        this.directory = directory;
        this.lockChannel = lockChannel;
        this.lock = lock;
    }

    /**
     * Opens the store for a node. Fails if another process holds it, or if the newest revision is
     * truncated or damaged: the message names the file and the last good revision.
     */
    public static ConfigStore open(Path directory) throws StoreException {
        ConfigStore store = lock(directory);
        try {
            store.load(false);
            return store;
        } catch (StoreException | RuntimeException e) {
            store.close();
            throw e;
        }
    }

    /**
     * Opens an existing store to list or repair it: a damaged newest revision is listed, not
     * fatal. A directory that holds no store is refused, and nothing is created in it.
     */
    public static ConfigStore openForRecovery(Path directory) throws StoreException {
        if (!Files.isDirectory(directory)) {
            throw new StoreException("no config store at " + directory + ": "
                    + (Files.exists(directory) ? "it is not a directory" : "it does not exist")
                    + " (give the stopped node's --state-dir)");
        }
        if (!Files.exists(directory.resolve(LOCK_FILE)) && !holdsRevisions(directory)) {
            throw new StoreException("no config store in " + directory + ": it holds no revision files and no "
                    + LOCK_FILE + " (give the stopped node's --state-dir)");
        }
        ConfigStore store = lock(directory);
        try {
            store.load(true);
            return store;
        } catch (StoreException | RuntimeException e) {
            store.close();
            throw e;
        }
    }

    public Path directory() {
        return directory;
    }

    /** The applied revision, or empty for a store that has never been written. */
    public synchronized Optional<StoredConfig> current() {
        return Optional.ofNullable(current);
    }

    /**
     * Makes {@code config} the applied config as the next revision. A config equal to the applied
     * one is not written again: the applied revision is returned unchanged.
     */
    public synchronized StoredConfig apply(BatonConfig config, String source) throws StoreException {
        String checksum = ConfigWriter.checksum(config);
        if (current != null && current.checksum().equals(checksum)) {
            return current;
        }
        return write(config, checksum, source);
    }

    /**
     * Applies a config under a revision chosen elsewhere (by the node that applied it first, so
     * that every node has the same revision). It must be newer than anything in this store.
     */
    public synchronized StoredConfig applyReplicated(BatonConfig config, long revision, String source)
            throws StoreException {
        if (revision <= highestRevision) {
            throw new StoreException("revision " + revision + " is not newer than this store's revision "
                    + highestRevision);
        }
        return write(config, ConfigWriter.checksum(config), source, revision);
    }

    /** The highest revision number this store has used (kept, pruned or damaged). */
    public synchronized long highestRevision() {
        return highestRevision;
    }

    /** A kept revision, or an error that says which are kept or why this one is unusable. */
    public synchronized StoredConfig revision(long revision) throws StoreException {
        List<RevisionInfo> kept = scan();
        RevisionInfo target = kept.stream().filter(info -> info.revision() == revision).findFirst()
                .orElseThrow(() -> new StoreException("revision " + revision + " is not kept in " + directory
                        + " (kept: " + describe(kept) + ")"));
        if (!target.intact()) {
            throw new StoreException("revision " + revision + " cannot be restored: " + target.problem());
        }
        return read(target.file());
    }

    /**
     * Applies a kept revision again, as a new revision (revisions never go back). Unusable revision
     * files are moved aside ({@code *.corrupt}) so that the store opens cleanly again.
     */
    public synchronized StoredConfig rollback(long revision) throws StoreException {
        StoredConfig restored = revision(revision);
        for (RevisionInfo info : scan()) {
            if (!info.intact()) {
                quarantine(info);
            }
        }
        return write(restored.config(), restored.checksum(), "rollback to " + revision);
    }

    /**
     * Moves the revision files whose numbers {@code aside} selects out of the store, into a new
     * directory {@code diverged-<time>} beside them (nothing is deleted), and makes the newest
     * remaining revision the applied one. For a node whose history diverged from its cluster's.
     *
     * @return the directory the files went to, or empty when none was selected
     */
    public synchronized Optional<Path> setAside(java.util.function.LongPredicate aside, String why)
            throws StoreException {
        List<RevisionInfo> selected = scan().stream().filter(info -> aside.test(info.revision())).toList();
        if (selected.isEmpty()) {
            return Optional.empty();
        }
        Path target = directory.resolve("diverged-" + Instant.now().toString().replace(':', '-'));
        try {
            Files.createDirectories(target);
            for (RevisionInfo info : selected) {
                Files.move(info.file(), target.resolve(info.file().getFileName()), StandardCopyOption.ATOMIC_MOVE);
            }
            syncDirectory();
        } catch (IOException e) {
            throw new StoreException("cannot move revisions aside to " + target + ": " + reason(e), e);
        }
        ObjectNode line = MAPPER.createObjectNode().put("at", Instant.now().toString()).put("why", why)
                .put("to", target.toString());
        ArrayNode numbers = line.putArray("set-aside");
        selected.forEach(info -> numbers.add(info.revision()));
        appendHistory(line);
        current = null;
        load(true);
        LOG.warn("config store {}: revision(s) {} set aside to {} ({}); the applied revision is now {}", directory,
                selected.stream().map(RevisionInfo::revision).toList(), target, why,
                current == null ? "none" : current.revision());
        return Optional.of(target);
    }

    /** Every revision file in the store, oldest first, with the reason it is unusable if it is. */
    public synchronized List<RevisionInfo> revisions() throws StoreException {
        return scan();
    }

    @Override
    public synchronized void close() {
        try {
            if (lock.isValid()) {
                lock.release();
            }
            lockChannel.close();
        } catch (IOException e) {
            LOG.warn("could not release the lock on config store {}: {}", directory, e.getMessage());
        }
    }

    private static boolean holdsRevisions(Path directory) throws StoreException {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory, "revision-*")) {
            return files.iterator().hasNext();
        } catch (IOException e) {
            throw new StoreException("cannot read " + directory + ": " + reason(e), e);
        }
    }

    private static ConfigStore lock(Path directory) throws StoreException {
        try {
            Files.createDirectories(directory);
        } catch (IOException e) {
            throw new StoreException("cannot create the config store directory " + directory + ": " + reason(e), e);
        }
        Path lockPath = directory.resolve(LOCK_FILE);
        FileChannel channel;
        try {
            channel = FileChannel.open(lockPath, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new StoreException("cannot open " + lockPath + ": " + reason(e), e);
        }
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (IOException | OverlappingFileLockException e) {
            lock = null;
        }
        if (lock == null) {
            closeQuietly(channel);
            throw new StoreLockedException("config store " + directory + " is in use by a running node (lock "
                    + lockPath + "); stop that node first, or change its config through its admin API");
        }
        return new ConfigStore(directory, channel, lock);
    }

    private void load(boolean recovery) throws StoreException {
        removeLeftoverTemporaryFiles();
        List<RevisionInfo> kept = scan();
        highestRevision = highestRevisionNumber();
        RevisionInfo newest = kept.isEmpty() ? null : kept.get(kept.size() - 1);
        if (newest == null) {
            LOG.info("config store {} is empty", directory);
            return;
        }
        Optional<RevisionInfo> lastGood = kept.stream().filter(RevisionInfo::intact).reduce((first, second) -> second);
        if (!newest.intact()) {
            String message = "config store " + directory + ": the applied config " + newest.file() + " (revision "
                    + newest.revision() + ") is unusable: " + newest.problem() + ". "
                    + lastGood.map(good -> "The last good revision is " + good.revision() + "; restore it with: baton"
                            + " config rollback " + good.revision() + " --store " + directory)
                            .orElse("No intact revision is kept; remove " + newest.file()
                                    + " and start the node with --config to begin again");
            if (!recovery) {
                throw new CorruptStoreException(message);
            }
            LOG.warn(message);
            current = lastGood.isPresent() ? read(lastGood.get().file()) : null;
            return;
        }
        current = read(newest.file());
        for (RevisionInfo info : kept) {
            if (!info.intact()) {
                LOG.warn("kept revision {} in {} is unusable and cannot be rolled back to: {}", info.revision(),
                        info.file(), info.problem());
            }
        }
    }

    private StoredConfig write(BatonConfig config, String checksum, String source) throws StoreException {
        return write(config, checksum, source, highestRevision + 1);
    }

    private StoredConfig write(BatonConfig config, String checksum, String source, long revision)
            throws StoreException {
        Instant appliedAt = Instant.now();
        ObjectNode envelope = MAPPER.createObjectNode()
                .put("revision", revision)
                .put("checksum", checksum)
                .put("applied-at", appliedAt.toString())
                .put("source", source);
        envelope.set("config", ConfigWriter.toTree(config));
        byte[] bytes;
        try {
            bytes = MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(envelope);
        } catch (JacksonException e) {
            throw new IllegalStateException("a tree of plain nodes always serialises", e);
        }
        Path target = directory.resolve(fileName(revision));
        Path temporary = directory.resolve("." + fileName(revision) + ".tmp");
        try {
            try (FileChannel channel = FileChannel.open(temporary, StandardOpenOption.CREATE,
                    StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
                ByteBuffer buffer = ByteBuffer.wrap(bytes);
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
                channel.force(true);
            }
            try {
                Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                throw new StoreException("the file system of " + directory + " cannot rename atomically", e);
            }
            syncDirectory();
        } catch (IOException e) {
            try {
                Files.deleteIfExists(temporary);
            } catch (IOException ignored) {
                // the next open removes leftovers
            }
            throw new StoreException("cannot write revision " + revision + " to " + directory + ": " + reason(e), e);
        }
        highestRevision = revision;
        current = new StoredConfig(revision, checksum, appliedAt, source, config);
        appendHistory(MAPPER.createObjectNode().put("revision", revision).put("checksum", checksum)
                .put("at", appliedAt.toString()).put("source", source));
        LOG.info("config revision {} applied ({}, {})", revision, source, checksum);
        prune();
        return current;
    }

    private void appendHistory(ObjectNode line) {
        try (FileChannel channel = FileChannel.open(directory.resolve(HISTORY_FILE), StandardOpenOption.CREATE,
                StandardOpenOption.APPEND, StandardOpenOption.WRITE)) {
            ByteBuffer buffer = ByteBuffer.wrap((MAPPER.writeValueAsString(line) + "\n")
                    .getBytes(java.nio.charset.StandardCharsets.UTF_8));
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
            channel.force(false);
        } catch (IOException e) {
            // the revision itself is stored: the log is for people reading what happened
            LOG.warn("could not append to {} in {}: {}", HISTORY_FILE, directory, e.getMessage());
        }
    }

    private void prune() {
        try {
            List<RevisionInfo> files = scan();
            for (int i = 0; i < files.size() - KEPT_REVISIONS; i++) {
                Files.deleteIfExists(files.get(i).file());
            }
        } catch (IOException | StoreException e) {
            LOG.warn("could not prune old revisions in {}: {}", directory, e.getMessage());
        }
    }

    private void quarantine(RevisionInfo info) throws StoreException {
        Path aside = info.file().resolveSibling(info.file().getFileName() + ".corrupt");
        try {
            Files.move(info.file(), aside, StandardCopyOption.ATOMIC_MOVE);
            LOG.warn("moved unusable revision {} aside to {}", info.revision(), aside);
        } catch (IOException e) {
            throw new StoreException("cannot move the unusable " + info.file() + " aside: " + reason(e), e);
        }
    }

    private List<RevisionInfo> scan() throws StoreException {
        List<RevisionInfo> result = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory, "revision-*.json")) {
            for (Path file : files) {
                Matcher matcher = REVISION_FILE.matcher(file.getFileName().toString());
                if (matcher.matches()) {
                    result.add(inspect(file, Long.parseLong(matcher.group(1))));
                }
            }
        } catch (IOException e) {
            throw new StoreException("cannot list config store " + directory + ": " + reason(e), e);
        }
        result.sort(Comparator.comparingLong(RevisionInfo::revision));
        return result;
    }

    private long highestRevisionNumber() throws StoreException {
        long highest = 0;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory, "revision-*")) {
            for (Path file : files) {
                Matcher matcher = REVISION_FILE.matcher(file.getFileName().toString());
                if (matcher.matches()) {
                    highest = Math.max(highest, Long.parseLong(matcher.group(1)));
                }
            }
        } catch (IOException e) {
            throw new StoreException("cannot list config store " + directory + ": " + reason(e), e);
        }
        return highest;
    }

    private RevisionInfo inspect(Path file, long revision) {
        try {
            StoredConfig stored = read(file);
            if (stored.revision() != revision) {
                return new RevisionInfo(revision, file, null, null, null,
                        "it says revision " + stored.revision() + " but is named for revision " + revision);
            }
            return new RevisionInfo(revision, file, stored.checksum(), stored.appliedAt(), stored.source(), null);
        } catch (StoreException e) {
            return new RevisionInfo(revision, file, null, null, null, e.getMessage());
        }
    }

    private static StoredConfig read(Path file) throws StoreException {
        JsonNode envelope;
        try {
            envelope = MAPPER.readTree(Files.readAllBytes(file));
        } catch (JacksonException e) {
            throw new StoreException("truncated or not JSON (" + e.getOriginalMessage() + ")");
        } catch (IOException e) {
            throw new StoreException("cannot be read (" + reason(e) + ")");
        }
        if (envelope == null || !envelope.isObject() || !envelope.path("revision").canConvertToLong()
                || !envelope.path("checksum").isTextual() || !envelope.path("config").isObject()) {
            throw new StoreException("truncated or damaged (revision, checksum or config missing)");
        }
        BatonConfig config;
        try {
            config = ConfigParser.fromTree(envelope.get("config"));
        } catch (InvalidConfigException e) {
            throw new StoreException("damaged: the stored config does not validate (" + e.errors().get(0) + ")");
        }
        String checksum = envelope.get("checksum").asText();
        String actual = ConfigWriter.checksum(config);
        if (!checksum.equals(actual)) {
            throw new StoreException("damaged: checksum " + actual + " does not match the recorded " + checksum);
        }
        Instant appliedAt;
        try {
            appliedAt = Instant.parse(envelope.path("applied-at").asText());
        } catch (DateTimeParseException e) {
            throw new StoreException("damaged: applied-at is not a time");
        }
        return new StoredConfig(envelope.get("revision").asLong(), checksum, appliedAt,
                envelope.path("source").asText(), config);
    }

    private void removeLeftoverTemporaryFiles() throws StoreException {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(directory, ".revision-*.tmp")) {
            for (Path file : files) {
                LOG.info("removing {} left by an interrupted write", file);
                Files.deleteIfExists(file);
            }
        } catch (IOException e) {
            throw new StoreException("cannot clean config store " + directory + ": " + reason(e), e);
        }
    }

    private void syncDirectory() throws IOException {
        try (FileChannel channel = FileChannel.open(directory, StandardOpenOption.READ)) {
            channel.force(true);
        }
    }

    private static String fileName(long revision) {
        return String.format("revision-%010d.json", revision);
    }

    private static String describe(List<RevisionInfo> kept) {
        if (kept.isEmpty()) {
            return "none";
        }
        return String.join(", ", kept.stream()
                .map(info -> info.revision() + (info.intact() ? "" : " (unusable)")).toList());
    }

    private static String reason(IOException e) {
        String message = e.getMessage();
        return e.getClass().getSimpleName() + (message == null ? "" : ": " + message);
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing held yet
        }
    }
}
