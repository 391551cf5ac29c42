package io.baton.cluster.wire;

/** Bytes that are not a cluster message this node understands; the message says why. */
public final class MalformedMessageException extends Exception {

    public MalformedMessageException(String reason) {
        super(reason);
    }
}
