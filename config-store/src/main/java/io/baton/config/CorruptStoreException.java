package io.baton.config;

/** The applied revision on disk is truncated or damaged; a node must not start on it. */
public final class CorruptStoreException extends StoreException {

    private static final long serialVersionUID = 1L;

    public CorruptStoreException(String message) {
        super(message);
    }
}
