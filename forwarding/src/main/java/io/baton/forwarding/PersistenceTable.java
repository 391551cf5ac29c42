package io.baton.forwarding;

import io.netty.util.concurrent.DefaultThreadFactory;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * Source-IP persistence: which real server a client (masked by the service's netmask) was sent
 * to, until a timeout after its last connection. Other modules read and write it through
 * {@link #snapshot()} and {@link #merge(Entry)}, so that the cluster can replicate it and a new
 * active node starts warm.
 *
 * <p>The table is bounded: it never holds more than {@code maxEntries} clients, however many
 * distinct addresses arrive. The request path stays O(1): a new client that finds the table full is
 * simply not pinned (counted in {@link #refusedWhenFull()}) and a sweep is asked for; sweeps run
 * off the request path, remove expired entries and, if the table is still nearly full, the
 * entries closest to expiring. Expired entries are also swept every {@link #SWEEP_EVERY} while
 * clients keep coming.
 */
public final class PersistenceTable {

    /** Far more pinned clients than a hospital has; at about 200 bytes an entry, some 20 MB of heap. */
    public static final int DEFAULT_MAX_ENTRIES = 100_000;
    static final Duration SWEEP_EVERY = Duration.ofSeconds(10);
    /** A sweep of a full table leaves it at this share of its bound, so that sweeps stay rare. */
    static final double SWEEP_TO = 0.9;
    private static final Executor SWEEPER = Executors.newSingleThreadExecutor(
            new DefaultThreadFactory("baton-persistence-sweep", true));

    /**
     * One remembered client.
     *
     * @param client    the masked client address, e.g. {@code 10.1.2.0/24}
     * @param expiresAt epoch milliseconds after which the entry no longer holds
     */
    public record Entry(String service, String client, String server, long expiresAt) {
    }

    private record Key(String service, String client) {
    }

    private final Map<Key, Entry> entries = new ConcurrentHashMap<>();
    /** Clients recorded here since the last {@link #drainChanges}: what the peers do not know yet. */
    private final java.util.Set<Key> changed = ConcurrentHashMap.newKeySet();
    private final AtomicInteger count = new AtomicInteger();
    private final LongAdder refused = new LongAdder();
    private final AtomicBoolean sweepQueued = new AtomicBoolean();
    private volatile long nextSweepAt;
    private final Clock clock;
    private final int maxEntries;
    private final Executor sweeper;

    public PersistenceTable(Clock clock) {
        this(clock, DEFAULT_MAX_ENTRIES, SWEEPER);
    }

    /** @param sweeper where sweeps run (off the request path; tests pass {@code Runnable::run}) */
    public PersistenceTable(Clock clock, int maxEntries, Executor sweeper) {
        this.clock = clock;
        this.maxEntries = maxEntries;
        this.sweeper = sweeper;
        this.nextSweepAt = clock.millis() + SWEEP_EVERY.toMillis();
    }

    /** The server {@code client} is kept on for {@code service}, if an entry holds. */
    public Optional<String> lookup(String service, InetAddress client, int netmask) {
        Key key = new Key(service, mask(client, netmask));
        Entry entry = entries.get(key);
        if (entry == null) {
            return Optional.empty();
        }
        if (entry.expiresAt() <= clock.millis()) {
            remove(key, entry);
            return Optional.empty();
        }
        return Optional.of(entry.server());
    }

    /** Remembers (or refreshes) that {@code client} goes to {@code server}. */
    public void record(String service, InetAddress client, int netmask, String server, Duration timeout) {
        String masked = mask(client, netmask);
        long now = clock.millis();
        Key key = new Key(service, masked);
        Entry previous = put(key, new Entry(service, masked, server, now + timeout.toMillis()), now);
        // a refresh of a known client on the same server need not travel at once: peers learn it at
        // the next change or full resend, and the timeout is minutes, the resend seconds
        if (previous == null || !previous.server().equals(server)
                || previous.expiresAt() - now < timeout.toMillis() / 2) {
            changed.add(key);
        }
    }

    /**
     * Up to {@code max} entries recorded here since the last call (each once, as it is now), for
     * replication to the peers. Entries that expired or went meanwhile are skipped.
     */
    public List<Entry> drainChanges(int max) {
        long now = clock.millis();
        List<Entry> batch = new java.util.ArrayList<>(Math.min(max, 256));
        java.util.Iterator<Key> keys = changed.iterator();
        while (keys.hasNext() && batch.size() < max) {
            Key key = keys.next();
            keys.remove();
            Entry entry = entries.get(key);
            if (entry != null && entry.expiresAt() > now) {
                batch.add(entry);
            }
        }
        return batch;
    }

    /** Every entry is to be sent again (a member joined and knows none of them). */
    public void markAllChanged() {
        changed.addAll(entries.keySet());
    }

    /** Takes an entry from a peer; the later expiry wins. */
    public void merge(Entry entry) {
        long now = clock.millis();
        if (entry.expiresAt() <= now) {
            return;
        }
        Key key = new Key(entry.service(), entry.client());
        Entry mine = entries.get(key);
        if (mine == null || entry.expiresAt() > mine.expiresAt()) {
            put(key, entry, now);
        }
    }

    /** Adds or replaces an entry within the bound; returns the entry it replaced, or null. */
    private Entry put(Key key, Entry entry, long now) {
        Entry previous = entries.replace(key, entry);
        if (previous == null) {
            if (count.incrementAndGet() > maxEntries) {
                count.decrementAndGet();
                refused.increment();
                sweepSoon();
                return null;
            }
            if (entries.putIfAbsent(key, entry) != null) {
                count.decrementAndGet(); // another thread added it meanwhile
                entries.put(key, entry);
            }
        }
        if (now >= nextSweepAt) {
            nextSweepAt = now + SWEEP_EVERY.toMillis();
            sweepSoon();
        }
        return previous;
    }

    private void sweepSoon() {
        if (sweepQueued.compareAndSet(false, true)) {
            try {
                sweeper.execute(() -> {
                    sweepQueued.set(false);
                    sweep();
                });
            } catch (RuntimeException rejected) {
                sweepQueued.set(false);
            }
        }
    }

    /** Drops expired entries and, when the table is nearly full, those closest to expiring. */
    void sweep() {
        expire();
        int target = (int) (maxEntries * SWEEP_TO);
        if (count.get() > target) {
            List<Map.Entry<Key, Entry>> byExpiry = new java.util.ArrayList<>(entries.entrySet());
            byExpiry.sort(java.util.Comparator.comparingLong(item -> item.getValue().expiresAt()));
            for (Map.Entry<Key, Entry> item : byExpiry) {
                if (count.get() <= target) {
                    break;
                }
                remove(item.getKey(), item.getValue());
            }
        }
    }

    /** Every entry that still holds. */
    public List<Entry> snapshot() {
        long now = clock.millis();
        return entries.values().stream().filter(entry -> entry.expiresAt() > now).toList();
    }

    /** Drops expired entries; returns how many. */
    public int expire() {
        long now = clock.millis();
        int removed = 0;
        for (Map.Entry<Key, Entry> item : entries.entrySet()) {
            if (item.getValue().expiresAt() <= now && remove(item.getKey(), item.getValue())) {
                removed++;
            }
        }
        return removed;
    }

    /** Forgets every client of a service (it was removed, or its persistence changed). */
    public void forgetService(String service) {
        for (Map.Entry<Key, Entry> item : entries.entrySet()) {
            if (item.getKey().service().equals(service)) {
                remove(item.getKey(), item.getValue());
            }
        }
    }

    private boolean remove(Key key, Entry entry) {
        if (entries.remove(key, entry)) {
            changed.remove(key);
            count.decrementAndGet();
            return true;
        }
        return false;
    }

    /** New clients that were not pinned because the table was full. */
    public long refusedWhenFull() {
        return refused.sum();
    }

    public int size() {
        return count.get();
    }

    static String mask(InetAddress client, int netmask) {
        if (!(client instanceof Inet4Address)) {
            return client.getHostAddress();
        }
        int address = toInt(client);
        int masked = netmask == 0 ? 0 : address & (-1 << (32 - netmask));
        String text = ((masked >>> 24) & 0xFF) + "." + ((masked >>> 16) & 0xFF) + "." + ((masked >>> 8) & 0xFF) + "."
                + (masked & 0xFF);
        return netmask == 32 ? text : text + "/" + netmask;
    }

    static int toInt(InetAddress address) {
        byte[] bytes = address.getAddress();
        int value = 0;
        for (byte b : bytes) {
            value = (value << 8) | (b & 0xFF);
        }
        return value;
    }
}
