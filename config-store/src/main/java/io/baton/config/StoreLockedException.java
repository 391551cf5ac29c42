package io.baton.config;

/** Another process (a running node) holds the store. */
public final class StoreLockedException extends StoreException {

    private static final long serialVersionUID = 1L;

    public StoreLockedException(String message) {
        super(message);
    }
}
