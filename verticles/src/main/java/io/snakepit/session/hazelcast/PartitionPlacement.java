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

  /**
   * A placement read through {@code hz}: a node's own member, or any other member of the cluster (an
   * application's Vert.x, a lite member), which need not carry a node id itself. Members without a node
   * id (embedded stores, tests) place nothing: the ring decides.
   */
  static PartitionPlacement of(HazelcastInstance hz) {
    return new PartitionPlacement(hz);
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
  public boolean isMember(String node) {
    try {
      for (Member m : hz.getCluster().getMembers()) {
        if (node != null && node.equals(m.getAttribute(HazelcastSessionStoreFactory.NODE_ATTRIBUTE))) {
          return true;
        }
      }
      return false;
    } catch (RuntimeException e) {
      return false; // shutting down
    }
  }

  @Override
  public String toString() {
    return "PartitionPlacement{" + hz.getName() + "}";
  }
}
