package io.baton.health;

/**
 * Rise and fall with HAProxy's meaning: {@code rise} consecutive successes make a server UP,
 * {@code fall} consecutive failures make it DOWN. Not thread-safe: one check at a time feeds it.
 */
public final class RiseFall {

    private final int rise;
    private final int fall;
    private HealthState state = HealthState.UNKNOWN;
    private int successes;
    private int failures;

    public RiseFall(int rise, int fall) {
        this.rise = rise;
        this.fall = fall;
    }

    /** Feeds one result; returns the new state if it changed, else null. */
    public HealthState record(boolean up) {
        if (up) {
            successes++;
            failures = 0;
            if (state != HealthState.UP && successes >= rise) {
                state = HealthState.UP;
                return state;
            }
        } else {
            failures++;
            successes = 0;
            if (state != HealthState.DOWN && failures >= fall) {
                state = HealthState.DOWN;
                return state;
            }
        }
        return null;
    }

    public HealthState state() {
        return state;
    }

    /** How far the current streak has gone towards its threshold, e.g. {@code 3/3}. */
    public String streak() {
        return successes > 0 ? successes + "/" + rise : failures + "/" + fall;
    }
}
