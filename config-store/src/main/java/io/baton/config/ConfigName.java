package io.baton.config;

import java.util.Arrays;
import java.util.Optional;
import java.util.stream.Collectors;

/** An enum constant as it is spelled in a configuration file ({@code l4-dr}, {@code load-balanced}). */
public interface ConfigName {

    String configName();

    static <E extends Enum<E> & ConfigName> Optional<E> parse(Class<E> type, String text) {
        return Arrays.stream(type.getEnumConstants())
                .filter(constant -> constant.configName().equals(text))
                .findFirst();
    }

    static <E extends Enum<E> & ConfigName> String choices(Class<E> type) {
        return Arrays.stream(type.getEnumConstants())
                .map(ConfigName::configName)
                .collect(Collectors.joining("|"));
    }
}
