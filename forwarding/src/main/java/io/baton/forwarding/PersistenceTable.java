package io.baton.forwarding;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Source-IP persistence: which real server a client (masked by the service's netmask) was sent
 * to, until a timeout after its last connection. Other modules read and write it through
 * {@link #snapshot()} and {@link #merge(Entry)}, so that the cluster can replicate it and a new
 * active node starts warm.
 */
public final class PersistenceTable {

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
    private final Clock clock;

    public PersistenceTable(Clock clock) {
        this.clock = clock;
    }

    /** The server {@code client} is kept on for {@code service}, if an entry holds. */
    public Optional<String> lookup(String service, InetAddress client, int netmask) {
        Entry entry = entries.get(new Key(service, mask(client, netmask)));
        if (entry == null || entry.expiresAt() <= clock.millis()) {
            return Optional.empty();
        }
        return Optional.of(entry.server());
    }

    /** Remembers (or refreshes) that {@code client} goes to {@code server}. */
    public void record(String service, InetAddress client, int netmask, String server, Duration timeout) {
        String masked = mask(client, netmask);
        entries.put(new Key(service, masked), new Entry(service, masked, server, clock.millis() + timeout.toMillis()));
    }

    /** Takes an entry from a peer; the later expiry wins. */
    public void merge(Entry entry) {
        entries.merge(new Key(entry.service(), entry.client()), entry,
                (mine, theirs) -> theirs.expiresAt() > mine.expiresAt() ? theirs : mine);
    }

    /** Every entry that still holds. */
    public List<Entry> snapshot() {
        long now = clock.millis();
        return entries.values().stream().filter(entry -> entry.expiresAt() > now).toList();
    }

    /** Drops expired entries; returns how many. */
    public int expire() {
        long now = clock.millis();
        int before = entries.size();
        entries.values().removeIf(entry -> entry.expiresAt() <= now);
        return before - entries.size();
    }

    /** Forgets every client of a service (it was removed, or its persistence changed). */
    public void forgetService(String service) {
        entries.keySet().removeIf(key -> key.service().equals(service));
    }

    public int size() {
        return entries.size();
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
