package io.baton.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

/**
 * Reads the fields of one mapping in a configuration tree. Every problem becomes a
 * {@link ConfigError} with its full path, and reading goes on, so that one pass reports them all.
 * A field that cannot be read yields null; callers treat null as "already reported".
 */
final class Fields {

    private final JsonNode node;
    private final String path;
    private final List<ConfigError> errors;
    private final Set<String> known = new LinkedHashSet<>();

    private Fields(JsonNode node, String path, List<ConfigError> errors) {
        this.node = node;
        this.path = path;
        this.errors = errors;
    }

    /** The mapping at {@code path}; anything else is reported and read as an empty mapping. */
    static Fields of(JsonNode node, String path, List<ConfigError> errors) {
        if (node == null || !node.isObject()) {
            errors.add(new ConfigError(path, "must be a mapping of keys to values, not " + describe(node)));
            return new Fields(JsonNodeFactory.instance.objectNode(), path, errors);
        }
        return new Fields(node, path, errors);
    }

    String path() {
        return path;
    }

    String path(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    boolean has(String key) {
        known.add(key);
        JsonNode value = node.get(key);
        return value != null && !value.isNull();
    }

    void error(String key, String message) {
        errors.add(new ConfigError(key == null ? path : path(key), message));
    }

    String string(String key, boolean required, String defaultValue) {
        if (!has(key)) {
            if (required) {
                error(key, "is required");
            }
            return defaultValue;
        }
        JsonNode value = node.get(key);
        if (!value.isTextual()) {
            error(key, "must be a string, not " + describe(value));
            return null;
        }
        String text = value.asText().trim();
        if (text.isEmpty()) {
            error(key, "must not be empty");
            return null;
        }
        return text;
    }

    /** A string that {@code parser} turns into a value, or null after reporting {@code "<text>" <problem>}. */
    <T> T parsed(String key, boolean required, T defaultValue, Function<String, T> parser, String problem) {
        if (!has(key)) {
            if (required) {
                error(key, "is required");
            }
            return defaultValue;
        }
        String text = string(key, false, null);
        if (text == null) {
            return null;
        }
        T parsedValue = parser.apply(text);
        if (parsedValue == null) {
            error(key, quote(text) + " " + problem);
        }
        return parsedValue;
    }

    Integer integer(String key, Integer defaultValue, int min, int max) {
        if (!has(key)) {
            if (defaultValue == null) {
                error(key, "is required");
            }
            return defaultValue;
        }
        JsonNode value = node.get(key);
        return integerValue(value, path(key), min, max);
    }

    Integer integerValue(JsonNode value, String valuePath, int min, int max) {
        if (!value.isIntegralNumber() || !value.canConvertToInt()) {
            errors.add(new ConfigError(valuePath, "must be a whole number, not " + describe(value)));
            return null;
        }
        int number = value.intValue();
        if (number < min || number > max) {
            errors.add(new ConfigError(valuePath, number + " is out of range " + min + ".." + max));
            return null;
        }
        return number;
    }

    /** An integer or a list of integers, each in range; null after reporting. */
    List<Integer> integers(String key, int min, int max) {
        known.add(key);
        JsonNode value = node.get(key);
        if (value == null || value.isNull()) {
            return null;
        }
        if (!value.isArray()) {
            Integer single = integerValue(value, path(key), min, max);
            return single == null ? null : List.of(single);
        }
        if (value.isEmpty()) {
            error(key, "must list at least one value");
            return null;
        }
        List<Integer> result = new ArrayList<>();
        boolean ok = true;
        for (int i = 0; i < value.size(); i++) {
            Integer item = integerValue(value.get(i), path(key) + "[" + i + "]", min, max);
            ok &= item != null;
            result.add(item);
        }
        return ok ? result : null;
    }

    /** A string or a list of strings, none empty; null after reporting. */
    List<String> strings(String key) {
        known.add(key);
        JsonNode value = node.get(key);
        if (value == null || value.isNull()) {
            return null;
        }
        List<JsonNode> items = new ArrayList<>();
        if (value.isArray()) {
            value.forEach(items::add);
        } else {
            items.add(value);
        }
        if (items.isEmpty()) {
            error(key, "must list at least one value");
            return null;
        }
        List<String> result = new ArrayList<>();
        for (int i = 0; i < items.size(); i++) {
            JsonNode item = items.get(i);
            String itemPath = value.isArray() ? path(key) + "[" + i + "]" : path(key);
            if (!item.isTextual() || item.asText().isBlank()) {
                errors.add(new ConfigError(itemPath, "must be a non-empty string, not " + describe(item)));
                return null;
            }
            result.add(item.asText().trim());
        }
        return result;
    }

    Boolean bool(String key, Boolean defaultValue) {
        if (!has(key)) {
            return defaultValue;
        }
        JsonNode value = node.get(key);
        if (!value.isBoolean()) {
            error(key, "must be true or false, not " + describe(value));
            return null;
        }
        return value.booleanValue();
    }

    Duration duration(String key, Duration defaultValue) {
        if (!has(key)) {
            return defaultValue;
        }
        JsonNode value = node.get(key);
        if (!value.isTextual()) {
            error(key, describe(value) + " is not a duration: give a unit, e.g. 500ms, 2s, 30m, 1h");
            return null;
        }
        Duration duration = Durations.parse(value.asText()).orElse(null);
        if (duration == null) {
            error(key, quote(value.asText()) + " is not a duration: use e.g. 500ms, 2s, 30m, 1h");
        }
        return duration;
    }

    <E extends Enum<E> & ConfigName> E choice(String key, Class<E> type, E defaultValue, boolean required) {
        if (!has(key)) {
            if (required) {
                error(key, "is required (one of " + ConfigName.choices(type) + ")");
            }
            return defaultValue;
        }
        String text = string(key, false, null);
        if (text == null) {
            return null;
        }
        E value = ConfigName.parse(type, text).orElse(null);
        if (value == null) {
            error(key, quote(text) + " is not one of " + ConfigName.choices(type));
        }
        return value;
    }

    /** The mapping under {@code key}, or null when absent. */
    Fields object(String key) {
        if (!has(key)) {
            return null;
        }
        return of(node.get(key), path(key), errors);
    }

    /** The list of mappings under {@code key}; empty when absent (reported if required). */
    List<Fields> objects(String key, boolean required) {
        if (!has(key)) {
            if (required) {
                error(key, "is required");
            }
            return List.of();
        }
        JsonNode value = node.get(key);
        if (!value.isArray()) {
            error(key, "must be a list, not " + describe(value));
            return List.of();
        }
        if (value.isEmpty() && required) {
            error(key, "must list at least one entry");
        }
        List<Fields> result = new ArrayList<>();
        for (int i = 0; i < value.size(); i++) {
            result.add(of(value.get(i), path(key) + "[" + i + "]", errors));
        }
        return result;
    }

    /** Reports every key that no reader asked for: a typo must never be silently ignored. */
    void rejectUnknownKeys() {
        Iterator<String> names = node.fieldNames();
        while (names.hasNext()) {
            String name = names.next();
            if (!known.contains(name)) {
                String suggestion = closest(name);
                error(name, "unknown key" + (suggestion == null ? " (expected one of " + String.join(", ", known) + ")"
                        : " (did you mean \"" + suggestion + "\"?)"));
            }
        }
    }

    private String closest(String name) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String candidate : known) {
            int distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
            if (distance < bestDistance) {
                best = candidate;
                bestDistance = distance;
            }
        }
        return bestDistance <= Math.max(2, name.length() / 4) ? best : null;
    }

    private static int editDistance(String a, String b) {
        int[] previous = new int[b.length() + 1];
        int[] current = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitution = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                current[j] = Math.min(substitution, Math.min(previous[j] + 1, current[j - 1] + 1));
            }
            int[] swap = previous;
            previous = current;
            current = swap;
        }
        return previous[b.length()];
    }

    static String quote(String text) {
        return "\"" + text + "\"";
    }

    static String describe(JsonNode value) {
        if (value == null || value.isMissingNode()) {
            return "nothing";
        }
        if (value.isNull()) {
            return "null";
        }
        if (value.isTextual()) {
            return "the string " + quote(value.asText());
        }
        if (value.isArray()) {
            return "a list";
        }
        if (value.isObject()) {
            return "a mapping";
        }
        return value.toString();
    }
}
