package io.baton.config;

import java.nio.file.Path;
import java.time.Instant;

/**
 * A revision kept in the store, as listed for an operator choosing one to roll back to.
 *
 * @param problem why the file cannot be used, or null when it is intact
 */
public record RevisionInfo(long revision, Path file, String checksum, Instant appliedAt, String source, String problem) {

    public boolean intact() {
        return problem == null;
    }
}
