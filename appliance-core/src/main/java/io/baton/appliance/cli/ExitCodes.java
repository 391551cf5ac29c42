package io.baton.appliance.cli;

/** What {@code baton} exits with; scripts rely on these, and the README lists them. */
public final class ExitCodes {

    /** Done. */
    public static final int OK = 0;
    /** Refused or failed: an invalid config, a node that cannot start, a rollback that is not possible. */
    public static final int FAILED = 1;
    /** The node's admin API could not be reached. */
    public static final int UNREACHABLE = 2;
    /** The command line itself was wrong (unknown option, missing argument). */
    public static final int USAGE = 64;
    /** A bug in Baton: please report it with the output. */
    public static final int INTERNAL = 70;

    private ExitCodes() {
    }
}
