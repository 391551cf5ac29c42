package io.baton.appliance;

import io.baton.config.HostPort;

import java.nio.file.Path;

/**
 * How to start one node.
 *
 * @param configFile    the bootstrap config: applied as revision 1 when the store is empty
 * @param nodeId        this node's id in {@code cluster.nodes}
 * @param stateDir      where the config store keeps its revisions
 * @param adminOverride listen here instead of the node's configured admin address; null to use it
 */
public record NodeOptions(Path configFile, String nodeId, Path stateDir, HostPort adminOverride) {
}
