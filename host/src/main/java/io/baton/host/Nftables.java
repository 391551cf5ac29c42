package io.baton.host;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** The {@code nft} tool: scripts applied as one transaction, and the named counters of a table. */
public final class Nftables {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Applies {@code script} with {@code nft -f -}: all of it, or nothing. */
    public void apply(String script) throws IOException {
        HostCommand.run(List.of("nft", "-f", "-"), script, "nftables");
    }

    /** The named counters of table {@code family name}: counter → {packets, bytes}; empty when the table is absent. */
    public Map<String, long[]> counters(String family, String name) throws IOException {
        String listed;
        try {
            listed = HostCommand.run(List.of("nft", "-j", "list", "counters", "table", family, name), null, "nftables");
        } catch (IOException absent) {
            return Map.of();
        }
        Map<String, long[]> counters = new HashMap<>();
        for (JsonNode item : JSON.readTree(listed).path("nftables")) {
            JsonNode counter = item.path("counter");
            if (!counter.isMissingNode()) {
                counters.put(counter.path("name").asText(),
                        new long[] {counter.path("packets").asLong(), counter.path("bytes").asLong()});
            }
        }
        return counters;
    }
}
