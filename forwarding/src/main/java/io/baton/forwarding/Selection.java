package io.baton.forwarding;

/**
 * The outcome of choosing a server for a new connection.
 *
 * @param backend  the server to connect to; null when there is none
 * @param fallback true when {@code backend} is the service's fallback server
 * @param reason   why there is none: {@link Reason#NO_HEALTHY_SERVER} or {@link Reason#ALL_FAILED}
 */
public record Selection(Backend backend, boolean fallback, Reason reason) {

    /** Why no server was chosen. */
    public enum Reason {
        /** A server was chosen. */
        CHOSEN,
        /** No server may take new connections (all down, drained, halted or weight 0). */
        NO_HEALTHY_SERVER,
        /** Servers were available, but every one tried for this connection failed. */
        ALL_FAILED,
        /** The usable servers (or the client's persistent one) have no free connection slot. */
        BUSY
    }

    static Selection of(Backend backend, boolean fallback) {
        return new Selection(backend, fallback, Reason.CHOSEN);
    }

    static Selection none(Reason reason) {
        return new Selection(null, false, reason);
    }

    public boolean found() {
        return backend != null;
    }
}
