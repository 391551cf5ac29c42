package io.baton.forwarding;

/** What the health checks last said of a real server. */
public enum Health {
    /** No check has decided yet; the server is used, so that a start is not an outage. */
    UNKNOWN,
    UP,
    /** Takes no new connections. */
    DOWN
}
