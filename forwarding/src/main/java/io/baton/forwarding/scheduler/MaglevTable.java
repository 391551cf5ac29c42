package io.baton.forwarding.scheduler;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/**
 * Weighted Maglev consistent hashing (Eisenbud et al., NSDI 2016). Each server walks its own
 * permutation of the table, derived from its name alone, and claims free slots in turns whose
 * frequency follows its weight. The table depends only on the names, weights and their order, so
 * every node computes the same one from the same configuration; removing a server moves little
 * more than that server's own slots.
 */
public final class MaglevTable {

    /** Slots per server at least; the table size is the next prime. */
    public static final int SLOTS_PER_SERVER = 100;

    private static final long OFFSET_SEED = 0x9E3779B97F4A7C15L;
    private static final long SKIP_SEED = 0xC2B2AE3D27D4EB4FL;

    private final int[] slots;

    private MaglevTable(int[] slots) {
        this.slots = slots;
    }

    /** A table sized for exactly these servers. */
    public static MaglevTable build(List<String> names, List<Integer> weights) {
        return build(names, weights, tableSize(names.size()));
    }

    /**
     * @param names   server names, in configuration order
     * @param weights their weights, each > 0
     * @param size    a prime; keep it fixed while servers come and go (size it for every configured
     *                server), since a new size reshuffles every slot
     */
    public static MaglevTable build(List<String> names, List<Integer> weights, int size) {
        int servers = names.size();
        if (servers == 0 || weights.size() != servers) {
            throw new IllegalArgumentException("need one weight per server, and at least one server");
        }
        long[] offset = new long[servers];
        long[] skip = new long[servers];
        int maxWeight = 0;
        for (int i = 0; i < servers; i++) {
            if (weights.get(i) <= 0) {
                throw new IllegalArgumentException("weight of " + names.get(i) + " must be > 0");
            }
            long nameHash = fnv1a(names.get(i));
            offset[i] = Long.remainderUnsigned(mix(nameHash ^ OFFSET_SEED), size);
            skip[i] = Long.remainderUnsigned(mix(nameHash ^ SKIP_SEED), size - 1) + 1;
            maxWeight = Math.max(maxWeight, weights.get(i));
        }
        int[] slots = new int[size];
        Arrays.fill(slots, -1);
        long[] next = new long[servers];
        long[] credit = new long[servers];
        int filled = 0;
        while (true) {
            for (int i = 0; i < servers; i++) {
                credit[i] += weights.get(i);
                while (credit[i] >= maxWeight) {
                    credit[i] -= maxWeight;
                    int slot;
                    do {
                        slot = (int) ((offset[i] + next[i] * skip[i]) % size);
                        next[i]++;
                    } while (slots[slot] >= 0);
                    slots[slot] = i;
                    if (++filled == size) {
                        return new MaglevTable(slots);
                    }
                }
            }
        }
    }

    /** The smallest prime ≥ {@value #SLOTS_PER_SERVER} × servers. */
    public static int tableSize(int servers) {
        int candidate = Math.max(2, SLOTS_PER_SERVER * servers);
        while (!isPrime(candidate)) {
            candidate++;
        }
        return candidate;
    }

    public int size() {
        return slots.length;
    }

    /** The index (into the list the table was built from) of the server for {@code hash}. */
    public int lookup(long hash) {
        return slots[(int) Long.remainderUnsigned(mix(hash), slots.length)];
    }

    /** Slot → server index, for a data plane that programs the table elsewhere (nftables). */
    public int[] slots() {
        return slots.clone();
    }

    /** A well-spread 64-bit hash of an IPv4 address (or any int), the same on every node. */
    public static long hashClient(int ipv4) {
        return mix(ipv4 & 0xFFFFFFFFL);
    }

    private static boolean isPrime(int n) {
        if (n < 2) {
            return false;
        }
        for (int d = 2; (long) d * d <= n; d++) {
            if (n % d == 0) {
                return false;
            }
        }
        return true;
    }

    private static long fnv1a(String text) {
        long hash = 0xCBF29CE484222325L;
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            hash ^= b & 0xFF;
            hash *= 0x100000001B3L;
        }
        return hash;
    }

    /** MurmurHash3's 64-bit finaliser. */
    private static long mix(long value) {
        long h = value;
        h ^= h >>> 33;
        h *= 0xFF51AFD7ED558CCDL;
        h ^= h >>> 33;
        h *= 0xC4CEB9FE1A85EC53L;
        h ^= h >>> 33;
        return h;
    }
}
