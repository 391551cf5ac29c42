package io.baton.health;

/** A server's health as rise and fall decide it. */
public enum HealthState {
    /** Not enough results yet. */
    UNKNOWN,
    UP,
    DOWN
}
