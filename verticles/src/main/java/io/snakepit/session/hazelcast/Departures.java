package io.snakepit.session.hazelcast;

import com.hazelcast.cluster.Member;
import com.hazelcast.core.HazelcastInstance;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * Counts the data members that left this member's view of the cluster, for
 * {@link io.snakepit.session.fencing.OwnershipLease#watchDepartures}. Read, not
 * listened for: Hazelcast delivers membership events on its event threads,
 * after it has already completed the invocations that waited on the departed
 * member's backup acknowledgement, so a listener would count a departure too
 * late for the write that it completed. Reading the member list at the check
 * sees it, since Hazelcast updates the list before it completes them.
 *
 * <p>A member that leaves and comes back (a merge after a split) comes back
 * with a new UUID, so it counts as a departure even when no check ran while it
 * was gone. Lite members hold no sessions and do not count.
 */
final class Departures implements LongSupplier {

  private final HazelcastInstance hz;
  private Set<Member> seen;
  private long count;

  Departures(HazelcastInstance hz) {
    this.hz = hz;
    this.seen = hz.getCluster().getMembers();
  }

  @Override
  public synchronized long getAsLong() {
    if (!hz.getLifecycleService().isRunning()) {
      return count;
    }
    Set<Member> now = hz.getCluster().getMembers();
    if (now != seen) {
      for (Member m : seen) {
        if (!m.isLiteMember() && !now.contains(m)) {
          count++;
          break;
        }
      }
      seen = now;
    }
    return count;
  }
}
