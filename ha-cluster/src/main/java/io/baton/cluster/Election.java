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

    /**
     * What the coordinator of a view knows when it elects.
     *
     * @param current          the decision this node has adopted
     * @param highestEpochSeen the highest epoch any member says it adopted
     * @param view             every member's info, in the view's order
     * @param merged           the view follows a merge of partitions
     * @param settling         every member of the view booted a moment ago: the highest priority takes
     *                         the role, after a join or a merge alike (see BOOT_SETTLE)
     */
    public record Round(Decision current, long highestEpochSeen, List<MemberInfo> view, int nodesConfigured,
                        boolean merged, boolean preempt, boolean settling) {
        public Round {
            view = List.copyOf(view);
        }
    }

    /**
     * The coordinator's decision for its view.
     *
     * @param warning      what to log, or null
     * @param everyoneReady every configured node is in the view and ready (the boot has settled)
     */
    public record Outcome(Decision decision, String warning, boolean everyoneReady) {
    }

    /**
     * The coordinator's election: {@link #decide} over the view, after two rules of its own. The
     * member that holds the VIPs is the active one, whatever a partition decided meanwhile; after a
     * merge in which several members hold them, the eligible holder with the highest priority stays
     * (as with keepalived), whichever node coordinates the merged view, and the merge always raises
     * the epoch past every epoch seen, so that each partition's decision is superseded.
     */
    public static Outcome coordinate(Round round) {
        long highestEpoch = Math.max(round.current().epoch(), round.highestEpochSeen());
        Decision base = round.current().epoch() == highestEpoch ? round.current()
                : new Decision(round.current().active(), highestEpoch, round.current().reason());
        List<String> holders = round.view().stream().filter(MemberInfo::holding).map(MemberInfo::nodeId).toList();
        if (holders.size() == 1 && !holders.get(0).equals(base.active())) {
            // a change of the active node like any other: a new epoch (the same epoch naming two actives
            // would let a node keep the one it saw first)
            base = new Decision(holders.get(0), highestEpoch + 1, holders.get(0) + " holds the VIPs");
        }
        List<MemberInfo> candidates = round.view();
        String warning = null;
        if (round.merged() && holders.size() > 1 && candidates.stream()
                .anyMatch(info -> info.ready() && holders.contains(info.nodeId()))) {
            warning = holders + " all hold the VIPs after a merge: the eligible one with the highest priority stays"
                    + " active";
            base = new Decision(null, base.epoch(), "");
            candidates = candidates.stream().filter(info -> holders.contains(info.nodeId())).toList();
        }
        // boot settle is for nodes started together, whether they joined or merged; otherwise the holder
        // stays (unless preempt)
        Decision next = decide(base, candidates, round.preempt() || round.settling());
        if (round.merged()) {
            String why;
            if (next.active() == null) {
                why = "partitions merged; no member is eligible";
            } else if (base.active() != null && !next.active().equals(base.active())) {
                why = "partitions merged while the cluster boots; " + next.reason();
            } else {
                why = "partitions merged; " + next.active() + " stays active";
            }
            next = new Decision(next.active(), highestEpoch + 1, why);
        }
        boolean everyoneReady = round.view().size() == round.nodesConfigured()
                && round.view().stream().allMatch(MemberInfo::ready);
        return new Outcome(next, warning, everyoneReady);
    }

    /**
     * Whether a node that has adopted {@code current} adopts {@code offered}: never an older epoch
     * (a decision delayed on the wire, or from a partition that lost a merge), never the same twice.
     */
    public static boolean supersedes(Decision offered, Decision current) {
        return offered.epoch() >= current.epoch() && !offered.equals(current);
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
