package io.baton.cluster;

/**
 * What a member tells the cluster about itself.
 *
 * @param ready          running, with its data plane able to take the active role
 * @param configRevision the config revision it runs
 */
public record MemberInfo(String nodeId, int priority, long configRevision, boolean ready) {
}
