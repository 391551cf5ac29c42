package io.baton.appliance;

/** The node cannot start; the message tells the operator why and what to do. */
public final class NodeStartException extends Exception {

    private static final long serialVersionUID = 1L;

    public NodeStartException(String message) {
        super(message);
    }

    public NodeStartException(String message, Throwable cause) {
        super(message, cause);
    }
}
