package io.snakepit.session.hazelcast;

import com.hazelcast.cluster.Member;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.partition.Partition;
import io.snakepit.routing.SessionPlacement;

/**
 * Sessions placed by Hazelcast's partition table: a session's primary is the
 * member that owns its key's partition, named by the node id the node set as
 * the member's {@value HazelcastSessionStoreFactory#NODE_ATTRIBUTE} attribute.
 * Reads the member's own, local copy of the table; thread-safe.
 */
final class PartitionPlacement implements SessionPlacement {

  private final HazelcastInstance hz;

  PartitionPlacement(HazelcastInstance hz) {
    this.hz = hz;
  }

  /** A placement for a member of a node's cluster, or null when its members carry no node ids. */
  static PartitionPlacement of(HazelcastInstance hz) {
    return hz.getCluster().getLocalMember().getAttribute(HazelcastSessionStoreFactory.NODE_ATTRIBUTE) == null
        ? null : new PartitionPlacement(hz);
  }

  @Override
  public String primaryOf(String sessionId) {
    try {
      Partition p = hz.getPartitionService().getPartition(sessionId);
      Member owner = p == null ? null : p.getOwner();
      return owner == null ? null : owner.getAttribute(HazelcastSessionStoreFactory.NODE_ATTRIBUTE);
    } catch (RuntimeException e) {
      return null; // the member is shutting down: the ring decides
    }
  }

  @Override
  public String toString() {
    return "PartitionPlacement{" + hz.getName() + "}";
  }
}
