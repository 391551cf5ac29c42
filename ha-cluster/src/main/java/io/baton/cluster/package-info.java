/**
 * The cluster: JGroups membership, election, VIP ownership with gratuitous ARP, and replication of config and state. Arrives with the HA issue.
 */
package io.baton.cluster;
