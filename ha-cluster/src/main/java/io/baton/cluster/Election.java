package io.baton.cluster;

import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * Chooses the active node, deterministically, from the members of the current view. Pure: the same
 * inputs give the same decision on every node, and it is tested without a network.
 *
 * <ul>
 *   <li>Only eligible members count: ready members. A member's config revision does not count: a
 *       config change never moves the active role, and an active node a moment behind on
 *       replication stays active. A member whose config history diverged from the cluster's says
 *       it is not ready (see {@code ConfigHistory}).</li>
 *   <li>The current active node stays active while it is eligible, unless {@code preempt} and an
 *       eligible member has a higher priority (no needless second failover when a node returns).</li>
 *   <li>Otherwise the highest priority wins; ties go to the lowest node id.</li>
 *   <li>Every change of the active node raises the epoch.</li>
 * </ul>
 */
public final class Election {

    private static final Comparator<MemberInfo> BEST = Comparator
            .comparingInt(MemberInfo::priority).reversed()
            .thenComparing(MemberInfo::nodeId);

    private Election() {
    }

    public static Decision decide(Decision previous, List<MemberInfo> members, boolean preempt) {
        List<MemberInfo> eligible = members.stream()
                .filter(MemberInfo::ready)
                .sorted(BEST)
                .toList();
        if (eligible.isEmpty()) {
            if (previous.active() == null) {
                return previous;
            }
            String why = members.stream().filter(member -> member.nodeId().equals(previous.active())).findFirst()
                    .map(was -> was.ready() ? "is not eligible" : was.unready()).orElse("left the cluster");
            return new Decision(null, previous.epoch() + 1, "no eligible member (" + previous.active() + " " + why
                    + ")");
        }
        MemberInfo best = eligible.get(0);
        Optional<MemberInfo> current = eligible.stream()
                .filter(member -> member.nodeId().equals(previous.active()))
                .findFirst();
        if (current.isPresent()) {
            if (!preempt || current.get().priority() >= best.priority()) {
                return previous;
            }
            return new Decision(best.nodeId(), previous.epoch() + 1, "preempt: " + best.nodeId() + " (priority "
                    + best.priority() + ") outranks " + current.get().nodeId() + " (priority "
                    + current.get().priority() + ")");
        }
        String why;
        if (previous.active() == null) {
            why = best.nodeId() + " has the highest priority of the eligible members";
        } else if (members.stream().anyMatch(member -> member.nodeId().equals(previous.active()))) {
            MemberInfo was = members.stream().filter(member -> member.nodeId().equals(previous.active()))
                    .findFirst().orElseThrow();
            why = previous.active() + " " + was.unready();
        } else {
            why = previous.active() + " left the cluster";
        }
        return new Decision(best.nodeId(), previous.epoch() + 1, why);
    }
}
