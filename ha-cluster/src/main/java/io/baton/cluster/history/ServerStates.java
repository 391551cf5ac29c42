package io.baton.cluster.history;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.baton.cluster.ClusterNode;
import io.baton.cluster.DaemonThreads;
import io.baton.cluster.Decision;
import io.baton.cluster.wire.ClusterMessage;
import io.baton.config.ConfigName;
import io.baton.config.ServerState;
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
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * The operators' states of real servers ({@code baton drain|halt|online}): runtime state, not
 * config. HAProxy's {@code set server … state drain} is not a config change either: a drain
 * survives any number of config applies (an apply that would change it says so) and restarts.
 *
 * <p>One map for the cluster, numbered by a version. A change sent to any node goes to the node
 * that numbers config revisions ({@link ConfigHistory#sequencer()}), which checks the server exists,
 * stores the new map ({@code server-states.json} beside the config store, written atomically) and
 * sends it to every member; a member stores and runs the sequencer's map whenever it differs from
 * its own (a node that joins, or a partition that merges, takes the cluster's map, and logs what of
 * its own it replaced). Work happens on a thread of its own, never the cluster's.
 */
public final class ServerStates implements AutoCloseable {

    /** One server's state, who set it, and when. */
    public record Entry(String service, String server, ServerState state, String at, String source) {
        String key() {
            return service + "/" + server;
        }
    }

    /** What this component needs from the node it runs in. */
    public interface Host {
        /** Why {@code service}/{@code server} cannot take a state here (no such service or server); null when it can. */
        String unknown(String service, String server);

        /** The map changed: run it (called on this component's thread). */
        void run(Map<String, Entry> states);
    }

    /** A change that was refused (no such server) or whose fate is unknown. */
    public static final class Failed extends Exception {
        private final boolean unknownServer;

        Failed(String message, boolean unknownServer) {
            super(message);
            this.unknownServer = unknownServer;
        }

        /** The service or server does not exist. */
        public boolean unknownServer() {
            return unknownServer;
        }
    }

    static final String FILE = "server-states.json";
    /** Answers to state changes use ids far from the config history's. */
    private static final long FIRST_ID = 1L << 60;
    private static final java.time.Duration WAIT = java.time.Duration.ofSeconds(10);
    private static final java.time.Duration RESEND = java.time.Duration.ofSeconds(5);
    private static final Logger LOG = LogManager.getLogger(ServerStates.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private volatile ClusterNode cluster;
    private volatile Supplier<String> sequencer;
    private final Path file;
    private final Host host;
    private final String self;
    private final ScheduledExecutorService thread =
            Executors.newSingleThreadScheduledExecutor(new DaemonThreads("baton-server-states"));
    private final AtomicLong ids = new AtomicLong(FIRST_ID);
    private final Map<Long, CompletableFuture<ClusterMessage.Answer>> waiting = new ConcurrentHashMap<>();
    private volatile long version;
    private volatile Map<String, Entry> states;

    private ServerStates(String self, Path directory, Host host, long version, Map<String, Entry> states) {
        this.file = directory.resolve(FILE);
        this.host = host;
        this.self = self;
        this.version = version;
        this.states = states;
    }

    /**
     * Reads the states kept in {@code directory} (none on a first start), for node {@code self} to
     * run at once; it follows the cluster's once {@link #follow}ing it.
     */
    public static ServerStates load(String self, Path directory, Host host) {
        long version = 0;
        Map<String, Entry> states = Map.of();
        Path file = directory.resolve(FILE);
        try {
            JsonNode root = JSON.readTree(Files.readAllBytes(file));
            version = root.path("version").asLong();
            states = parse(root.path("states"));
        } catch (NoSuchFileException e) {
            // no operator has set a state yet
        } catch (IOException | RuntimeException e) {
            LOG.error("cannot read {} ({}): starting with no server states; the cluster's come when it is joined",
                    file, e.getMessage());
        }
        return new ServerStates(self, directory, host, version, states);
    }

    /** Follows the cluster's map, numbered by {@code sequencer} (changes come through the host). */
    public void follow(ClusterNode cluster, Supplier<String> sequencer) {
        this.sequencer = sequencer;
        this.cluster = cluster;
        cluster.subscribe(subscriber());
        execute(() -> {
            sendIfSequencer();
            askSequencer();
        });
        // again now and then: a member that took another node for the sequencer when it was sent learns it
        thread.scheduleWithFixedDelay(() -> execute(this::sendIfSequencer), RESEND.toMillis(), RESEND.toMillis(),
                TimeUnit.MILLISECONDS);
    }

    /** Every state an operator set, by "service/server". */
    public Map<String, Entry> states() {
        return states;
    }

    public long version() {
        return version;
    }

    /** Sets a server's state, for the whole cluster, through the sequencer; returns the new version. */
    public long set(String service, String server, ServerState state, String source) throws Failed,
            InterruptedException {
        if (cluster == null) {
            throw new Failed("this node has not joined its cluster yet", false);
        }
        long id = ids.incrementAndGet();
        CompletableFuture<ClusterMessage.Answer> answer = new CompletableFuture<>();
        waiting.put(id, answer);
        ClusterMessage.StateChange change = new ClusterMessage.StateChange(id, service, server, state.configName(),
                source + " on " + self);
        try {
            execute(() -> send(change, answer, System.nanoTime() + WAIT.toNanos()));
            ClusterMessage.Answer said = answer.get(WAIT.toMillis() + 1000, TimeUnit.MILLISECONDS);
            if (said.outcome() != ClusterMessage.Answer.APPLIED) {
                throw new Failed(said.message(), said.outcome() == ClusterMessage.Answer.INVALID);
            }
            return said.revision();
        } catch (TimeoutException e) {
            throw new Failed("no answer from " + sequencer.get() + " within " + WAIT.toSeconds()
                    + " s; see `baton status` whether the state was set", false);
        } catch (ExecutionException e) {
            throw new Failed(e.getCause().getMessage(), false);
        } finally {
            waiting.remove(id);
        }
    }

    @Override
    public void close() {
        thread.shutdownNow();
    }

    private void send(ClusterMessage.StateChange change, CompletableFuture<ClusterMessage.Answer> answer,
                      long deadline) {
        if (answer.isDone()) {
            return;
        }
        String to = sequencer.get();
        if (to.equals(self)) {
            decide(self, change);
        } else if (!cluster.sendTo(to, change)) {
            if (System.nanoTime() > deadline) {
                answer.completeExceptionally(new Failed(to + " (the node that numbers changes) is not reachable",
                        false));
            } else {
                thread.schedule(() -> send(change, answer, deadline), 100, TimeUnit.MILLISECONDS);
            }
        }
    }

    /** On the sequencer: checks the change, stores the new map and sends it to every member. */
    private void decide(String from, ClusterMessage.StateChange change) {
        if (!sequencer.get().equals(self)) {
            reply(from, answer(change.id(), ClusterMessage.Answer.FAILED, 0, sequencer.get()
                    + " numbers changes now, not " + self + "; try again"));
            return;
        }
        ServerState state = ConfigName.parse(ServerState.class, change.state()).orElse(null);
        String unknown = state == null ? "unknown state \"" + change.state() + "\"" : host.unknown(change.service(),
                change.server());
        if (unknown != null) {
            reply(from, answer(change.id(), ClusterMessage.Answer.INVALID, 0, unknown));
            return;
        }
        Map<String, Entry> next = new LinkedHashMap<>(states);
        Entry entry = new Entry(change.service(), change.server(), state, Instant.now().toString(), change.source());
        next.put(entry.key(), entry);
        long nextVersion = version + 1;
        try {
            store(nextVersion, next);
        } catch (IOException e) {
            reply(from, answer(change.id(), ClusterMessage.Answer.FAILED, 0, "cannot store " + file + " on "
                    + self + ": " + e.getMessage()));
            return;
        }
        LOG.info("{}/{} set to {} ({}), server states version {}", change.service(), change.server(),
                state.configName(), change.source(), nextVersion);
        adopt(nextVersion, next);
        cluster.broadcast(message());
        reply(from, answer(change.id(), ClusterMessage.Answer.APPLIED, nextVersion, ""));
    }

    private ClusterNode.Subscriber subscriber() {
        return new ClusterNode.Subscriber() {
            @Override
            public void received(String from, ClusterMessage message) {
                if (message instanceof ClusterMessage.StateChange change) {
                    execute(() -> decide(from, change));
                } else if (message instanceof ClusterMessage.ServerStates map) {
                    execute(() -> receive(from, map));
                } else if (message instanceof ClusterMessage.StatesRequest) {
                    execute(() -> {
                        if (sequencer.get().equals(self)) {
                            cluster.sendTo(from, message());
                        }
                    });
                } else if (message instanceof ClusterMessage.Answer answer && answer.id() >= FIRST_ID) {
                    CompletableFuture<ClusterMessage.Answer> pending = waiting.get(answer.id());
                    if (pending != null) {
                        pending.complete(answer);
                    }
                }
            }

            @Override
            public void viewChanged(List<String> members, boolean merge) {
                execute(ServerStates.this::sendIfSequencer);
            }

            @Override
            public void decided(Decision decision) {
                execute(() -> {
                    sendIfSequencer();
                    askSequencer();
                });
            }
        };
    }

    /** A member that knows who numbers the states asks for them (it may have missed the sequencer's). */
    private void askSequencer() {
        String to = sequencer.get();
        if (!to.equals(self)) {
            cluster.sendTo(to, new ClusterMessage.StatesRequest());
        }
    }

    /** The sequencer tells every member its map when members or the sequencer change. */
    private void sendIfSequencer() {
        if (sequencer.get().equals(self) && cluster.members().size() > 1) {
            cluster.broadcast(message());
        }
    }

    private void receive(String from, ClusterMessage.ServerStates received) {
        if (!from.equals(sequencer.get())) {
            return; // only the sequencer's map counts
        }
        Map<String, Entry> theirs = new LinkedHashMap<>();
        for (ClusterMessage.StateEntry entry : received.states()) {
            ServerState state = ConfigName.parse(ServerState.class, entry.state()).orElse(null);
            if (state != null) {
                theirs.put(entry.service() + "/" + entry.server(), new Entry(entry.service(), entry.server(), state,
                        entry.at(), entry.source()));
            }
        }
        if (received.version() == version && theirs.equals(states)) {
            return;
        }
        for (Entry mine : states.values()) {
            Entry replaced = theirs.get(mine.key());
            if (replaced == null || replaced.state() != mine.state()) {
                LOG.warn("server state {} of {} ({}) replaced by the cluster's: {}", mine.state().configName(),
                        mine.key(), mine.source(), replaced == null ? "none (config decides)"
                                : replaced.state().configName() + " (" + replaced.source() + ")");
            }
        }
        try {
            store(received.version(), theirs);
        } catch (IOException e) {
            LOG.error("cannot store the cluster's server states in {}: {}; running them anyway", file, e.getMessage());
        }
        adopt(received.version(), theirs);
    }

    private void adopt(long newVersion, Map<String, Entry> next) {
        version = newVersion;
        states = Map.copyOf(next);
        try {
            host.run(states);
        } catch (RuntimeException e) {
            LOG.error("running server states version {} failed", newVersion, e);
        }
    }

    private ClusterMessage.ServerStates message() {
        List<ClusterMessage.StateEntry> entries = new ArrayList<>();
        states.values().stream().sorted(Comparator.comparing(Entry::key)).limit(ClusterMessage.ServerStates.MAX)
                .forEach(entry -> entries.add(new ClusterMessage.StateEntry(entry.service(), entry.server(),
                        entry.state().configName(), entry.at(), entry.source())));
        return new ClusterMessage.ServerStates(version, entries);
    }

    private void store(long newVersion, Map<String, Entry> next) throws IOException {
        ObjectNode root = JSON.createObjectNode().put("version", newVersion);
        ArrayNode list = root.putArray("states");
        next.values().stream().sorted(Comparator.comparing(Entry::key)).forEach(entry -> list.addObject()
                .put("service", entry.service()).put("server", entry.server())
                .put("state", entry.state().configName()).put("at", entry.at()).put("source", entry.source()));
        Path temporary = file.resolveSibling("." + FILE + ".tmp");
        try (FileChannel channel = FileChannel.open(temporary, StandardOpenOption.CREATE,
                StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            ByteBuffer buffer = ByteBuffer.wrap(JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));
            while (buffer.hasRemaining()) {
                channel.write(buffer);
            }
            channel.force(true);
        }
        Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    private static Map<String, Entry> parse(JsonNode list) {
        Map<String, Entry> states = new LinkedHashMap<>();
        for (JsonNode item : list) {
            ServerState state = ConfigName.parse(ServerState.class, item.path("state").asText()).orElse(null);
            if (state != null) {
                Entry entry = new Entry(item.path("service").asText(), item.path("server").asText(), state,
                        item.path("at").asText(), item.path("source").asText());
                states.put(entry.key(), entry);
            }
        }
        return Map.copyOf(states);
    }

    private void reply(String to, ClusterMessage.Answer answer) {
        if (to.equals(self)) {
            CompletableFuture<ClusterMessage.Answer> pending = waiting.get(answer.id());
            if (pending != null) {
                pending.complete(answer);
            }
        } else {
            cluster.sendTo(to, answer);
        }
    }

    private static ClusterMessage.Answer answer(long id, int outcome, long version, String message) {
        return new ClusterMessage.Answer(id, outcome, version, "", outcome == ClusterMessage.Answer.APPLIED, message,
                List.of(), List.of(), List.of(), List.of());
    }

    private void execute(Runnable step) {
        try {
            thread.execute(() -> {
                try {
                    step.run();
                } catch (RuntimeException e) {
                    LOG.error("server states: a step failed", e);
                }
            });
        } catch (RejectedExecutionException e) {
            // stopping
        }
    }
}
