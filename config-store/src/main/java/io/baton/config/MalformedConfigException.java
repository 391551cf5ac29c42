package io.baton.config;

/** A document that is not well-formed YAML or JSON at all; the message says where and why. */
public final class MalformedConfigException extends Exception {

    private static final long serialVersionUID = 1L;

    public MalformedConfigException(String message) {
        super(message);
    }
}
