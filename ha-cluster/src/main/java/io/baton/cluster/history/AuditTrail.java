package io.baton.cluster.history;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.baton.cluster.ClusterNode;
import io.baton.cluster.DaemonThreads;
import io.baton.cluster.wire.ClusterMessage;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Who changed what, from where and why: every change an operator makes (apply, rollback,
 * resolve, drain, halt, online, failover) is recorded by the node it came through, with the
 * caller's token name and address, the config revision, the operator's reason and a short
 * summary, and sent to every member, so that every node's {@code baton config history} shows
 * every change, wherever it was made.
 *
 * <p>Kept beside the config store ({@code audit.jsonl}, one entry a line, written atomically),
 * the newest {@link #KEPT}. Entries are identified by their id (node, time, counter): a member
 * keeps what it lacks, so that a node that was away, or the other side of a partition, learns the
 * changes made without it when it joins (each member sends its newest {@link
 * ClusterMessage.Audit#MAX} when the members change). Work happens on a thread of its own.
 */
public final class AuditTrail implements AutoCloseable {

    /** One change, as {@link ClusterMessage.AuditRecord} carries it; {@link #at} orders them. */
    public record Entry(String id, Instant at, String node, String action, long revision, String caller,
                        String peer, String reason, String summary) {
        ClusterMessage.AuditRecord wire() {
            return new ClusterMessage.AuditRecord(id, at.toString(), node, action, revision, caller, peer, reason,
                    summary);
        }
    }

    /** Who asked for a change: the token's name ({@code local} on loopback without tokens) and address. */
    public record Caller(String name, String peer, String reason) {
    }

    static final String FILE = "audit.jsonl";
    /** Entries kept: years of a hospital's changes, a few hundred kilobytes. */
    static final int KEPT = 1000;
    /** The most an operator's reason and a summary keep. */
    public static final int MAX_TEXT = 500;
    private static final java.time.Duration WAIT = java.time.Duration.ofSeconds(5);
    private static final Logger LOG = LogManager.getLogger(AuditTrail.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String self;
    private final Path file;
    private final ScheduledExecutorService thread =
            Executors.newSingleThreadScheduledExecutor(new DaemonThreads("baton-audit"));
    private final AtomicLong counter = new AtomicLong();
    /** By time, then id; on the audit thread. */
    private final TreeSet<Entry> entries = new TreeSet<>(Comparator.comparing(Entry::at).thenComparing(Entry::id));
    private final Set<String> ids = new HashSet<>();
    private volatile List<Entry> view = List.of();
    private volatile ClusterNode cluster;

    private AuditTrail(String self, Path file) {
        this.self = self;
        this.file = file;
    }

    /** Reads the trail kept in {@code directory} (none on a first start). */
    public static AuditTrail load(String self, Path directory) {
        AuditTrail trail = new AuditTrail(self, directory.resolve(FILE));
        List<Entry> read = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(trail.file, StandardCharsets.UTF_8)) {
                Entry entry = parse(line);
                if (entry != null) {
                    read.add(entry);
                } else if (!line.isBlank()) {
                    LOG.warn("{}: an unreadable line skipped: {}", trail.file, abbreviate(line, 120));
                }
            }
        } catch (NoSuchFileException e) {
            // no change recorded yet
        } catch (IOException | RuntimeException e) {
            LOG.error("cannot read {} ({}): starting with an empty audit trail; the cluster's comes when it is joined",
                    trail.file, e.getMessage());
        }
        trail.merge(read);
        return trail;
    }

    /** Sends this node's entries to the cluster, and keeps what the others send. */
    public void follow(ClusterNode cluster) {
        this.cluster = cluster;
        cluster.subscribe(new ClusterNode.Subscriber() {
            @Override
            public void received(String from, ClusterMessage message) {
                if (message instanceof ClusterMessage.Audit audit) {
                    execute(() -> receive(from, audit));
                }
            }

            @Override
            public void viewChanged(List<String> members, boolean merge) {
                execute(() -> sendNewest());
            }
        });
        execute(this::sendNewest);
    }

    /**
     * Records a change made through this node and sends it to the members; returns the entry. The
     * change is made already: a trail that cannot be written is logged, it does not undo it.
     */
    public Entry record(String action, long revision, Caller caller, String summary) {
        Instant at = Instant.now();
        Entry entry = new Entry(self + "-" + at.toEpochMilli() + "-" + counter.incrementAndGet(), at, self, action,
                revision, abbreviate(caller.name(), 200), abbreviate(caller.peer(), 200),
                abbreviate(caller.reason(), MAX_TEXT), abbreviate(summary, MAX_TEXT));
        LOG.info("audit: {} revision {} by {} from {}{}: {}", action, revision, entry.caller(),
                entry.peer().isEmpty() ? "this node" : entry.peer(),
                entry.reason().isEmpty() ? "" : " (" + entry.reason() + ")", entry.summary());
        CompletableFuture<Void> done = new CompletableFuture<>();
        execute(() -> {
            try {
                if (merge(List.of(entry))) {
                    store();
                }
                ClusterNode joined = cluster;
                if (joined != null && joined.members().size() > 1) {
                    joined.broadcast(new ClusterMessage.Audit(List.of(entry.wire())));
                }
            } finally {
                done.complete(null);
            }
        });
        try {
            done.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            LOG.warn("audit: entry {} not yet stored after {} s", entry.id(), WAIT.toSeconds());
        }
        return entry;
    }

    /** Every entry kept, oldest first. */
    public List<Entry> entries() {
        return view;
    }

    @Override
    public void close() {
        thread.shutdownNow();
    }

    private void receive(String from, ClusterMessage.Audit audit) {
        List<Entry> theirs = new ArrayList<>();
        for (ClusterMessage.AuditRecord record : audit.entries()) {
            Entry entry = entry(record);
            if (entry == null) {
                LOG.warn("audit: an entry from {} with an unreadable time ignored: {}", from, record.at());
            } else {
                theirs.add(entry);
            }
        }
        if (merge(theirs)) {
            store();
        }
    }

    /** On the audit thread (or before it runs): adds what is new; true if anything was. */
    private boolean merge(List<Entry> more) {
        boolean added = false;
        for (Entry entry : more) {
            if (ids.add(entry.id())) {
                entries.add(entry);
                added = true;
            }
        }
        while (entries.size() > KEPT) {
            ids.remove(entries.pollFirst().id());
        }
        if (added) {
            view = List.copyOf(entries);
        }
        return added;
    }

    private void sendNewest() {
        ClusterNode joined = cluster;
        if (joined == null || joined.members().size() < 2 || entries.isEmpty()) {
            return;
        }
        List<Entry> all = view;
        List<ClusterMessage.AuditRecord> newest = all.subList(Math.max(0, all.size() - ClusterMessage.Audit.MAX),
                all.size()).stream().map(Entry::wire).toList();
        joined.broadcast(new ClusterMessage.Audit(newest));
    }

    private void store() {
        StringBuilder text = new StringBuilder();
        try {
            for (Entry entry : view) {
                text.append(JSON.writeValueAsString(entry.wire())).append('\n');
            }
            Path temporary = file.resolveSibling("." + FILE + ".tmp");
            try (FileChannel channel = FileChannel.open(temporary, StandardOpenOption.CREATE,
                    StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
                ByteBuffer buffer = ByteBuffer.wrap(text.toString().getBytes(StandardCharsets.UTF_8));
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
                channel.force(true);
            }
            Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            LOG.error("cannot store the audit trail in {}: {}; it is kept in memory", file, e.getMessage());
        }
    }

    private static Entry parse(String line) {
        if (line.isBlank()) {
            return null;
        }
        try {
            JsonNode node = JSON.readTree(line);
            return entry(new ClusterMessage.AuditRecord(node.path("id").asText(), node.path("at").asText(),
                    node.path("node").asText(), node.path("action").asText(), node.path("revision").asLong(),
                    node.path("caller").asText(), node.path("peer").asText(), node.path("reason").asText(),
                    node.path("summary").asText()));
        } catch (IOException e) {
            return null;
        }
    }

    private static Entry entry(ClusterMessage.AuditRecord record) {
        if (record.id().isEmpty()) {
            return null;
        }
        try {
            return new Entry(record.id(), Instant.parse(record.at()), record.node(), record.action(),
                    record.revision(), record.caller(), record.peer(), record.reason(), record.summary());
        } catch (DateTimeParseException e) {
            return null;
        }
    }

    static String abbreviate(String text, int most) {
        String clean = text == null ? "" : text.replaceAll("\\p{Cntrl}", " ").strip();
        return clean.length() <= most ? clean : clean.substring(0, most - 3) + "...";
    }

    private void execute(Runnable step) {
        try {
            thread.execute(() -> {
                try {
                    step.run();
                } catch (RuntimeException e) {
                    LOG.error("audit trail: a step failed", e);
                }
            });
        } catch (RejectedExecutionException e) {
            // stopping
        }
    }
}
