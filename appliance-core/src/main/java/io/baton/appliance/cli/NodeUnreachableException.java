package io.baton.appliance.cli;

/** The node's admin API did not answer. */
final class NodeUnreachableException extends Exception {

    private static final long serialVersionUID = 1L;

    NodeUnreachableException(String message, Throwable cause) {
        super(message, cause);
    }
}
