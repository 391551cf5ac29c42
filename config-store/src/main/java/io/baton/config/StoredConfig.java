package io.baton.config;

import java.time.Instant;

/**
 * One applied revision of the configuration.
 *
 * @param source what applied it: {@code file /etc/baton/baton.yaml}, {@code admin-api}, {@code rollback to 7}
 */
public record StoredConfig(long revision, String checksum, Instant appliedAt, String source, BatonConfig config) {
}
