package io.baton.config;

import java.util.List;
import java.util.stream.Collectors;

/** A configuration that parsed but breaks rules; carries every error found, not just the first. */
public final class InvalidConfigException extends Exception {

    private static final long serialVersionUID = 1L;

    private final transient List<ConfigError> errors;

    public InvalidConfigException(List<ConfigError> errors) {
        super(errors.size() + " configuration error(s):\n  "
                + errors.stream().map(ConfigError::toString).collect(Collectors.joining("\n  ")));
        this.errors = List.copyOf(errors);
    }

    public List<ConfigError> errors() {
        return errors;
    }
}
