package io.baton.config;

/** The configuration store cannot do what was asked; the message tells the operator why and what to do. */
public class StoreException extends Exception {

    private static final long serialVersionUID = 1L;

    public StoreException(String message) {
        super(message);
    }

    public StoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
