package io.baton.cluster;

import org.jgroups.Address;
import org.jgroups.Event;
import org.jgroups.stack.Protocol;

import java.util.Collection;
import java.util.HashSet;
import java.util.Set;

/**
 * A JGroups protocol, just above VERIFY_SUSPECT2, that notes which members the stack confirmed as
 * suspected (a killed process, a lost host, a cut link), and passes everything on unchanged. A
 * member that leaves the view without having been suspected left on purpose (it asked to leave):
 * that is how {@link ClusterNode} tells a node that LEFT from one that is LOST, even when the
 * node's last word did not arrive before the view without it.
 */
public final class SuspectLog extends Protocol {

    private final Set<Address> suspected = new HashSet<>();

    @Override
    public Object up(Event event) {
        if (event.getType() == Event.SUSPECT && event.getArg() instanceof Collection<?> addresses) {
            synchronized (suspected) {
                for (Object address : addresses) {
                    if (address instanceof Address member) {
                        suspected.add(member);
                    }
                }
            }
        }
        return up_prot.up(event);
    }

    /** Forgets the suspicions of members that are still in the view (they were not removed for it). */
    void forgetMembers(Collection<Address> members) {
        synchronized (suspected) {
            suspected.removeAll(members);
        }
    }

    /** Whether {@code member} was suspected since it was last forgotten; forgets it. */
    boolean takeSuspected(Address member) {
        synchronized (suspected) {
            return suspected.remove(member);
        }
    }
}
