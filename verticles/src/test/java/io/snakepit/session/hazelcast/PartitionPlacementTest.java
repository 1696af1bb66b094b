package io.snakepit.session.hazelcast;

import static io.snakepit.session.hazelcast.TestCluster.await;
import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.config.Config;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastJsonValue;
import com.hazelcast.map.IMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Property: across random joins, graceful leaves and crashes of real embedded
 * members, once the partitions have migrated, every member's placement names
 * the same node for a session: the node of the member that owns the session's
 * partition, which holds the session's primary copy locally.
 */
class PartitionPlacementTest {

  final TestCluster cluster = new TestCluster();

  @AfterEach
  void tearDown() {
    cluster.close();
  }

  HazelcastInstance join(int n) {
    Config c = cluster.config(1);
    c.getMemberAttributeConfig().setAttribute(HazelcastSessionStoreFactory.NODE_ATTRIBUTE, "node-" + n);
    return cluster.start(c);
  }

  @Test
  void everyMemberNamesThePrimarysNodeAcrossJoinsLeavesAndMigrations() {
    long seed = Long.getLong("placement.seed", System.nanoTime());
    System.out.println("PartitionPlacementTest seed " + seed + " (-Dplacement.seed=" + seed + " repeats it)");
    Random random = new Random(seed);
    List<HazelcastInstance> live = new ArrayList<>();
    int next = 0;
    for (; next < 3; next++) {
      live.add(join(next));
    }
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      ids.add("s-" + Long.toString(random.nextLong() & Long.MAX_VALUE, 36));
    }
    IMap<String, HazelcastJsonValue> data = live.get(0).getMap("placement-check");
    ids.forEach(id -> data.set(id, new HazelcastJsonValue("{}")));
    for (int step = 0; step < 6; step++) {
      int action = live.size() <= 2 ? 0 : live.size() >= 4 ? 1 + random.nextInt(2) : random.nextInt(3);
      if (action == 0) {
        live.add(join(next++));
      } else {
        HazelcastInstance gone = live.remove(random.nextInt(live.size()));
        if (action == 1) {
          gone.shutdown(); // graceful: its partitions migrate first
        } else {
          gone.getLifecycleService().terminate(); // a crash: backups are promoted
        }
      }
      int size = live.size();
      await(() -> live.stream().allMatch(m -> m.getCluster().getMembers().size() == size
          && m.getPartitionService().isClusterSafe()), "a safe cluster of " + size + " after step " + step);
      assertPlacementAgrees(live, ids, "after step " + step + " (seed " + seed + ")");
    }
  }

  static void assertPlacementAgrees(List<HazelcastInstance> live, List<String> ids, String when) {
    List<PartitionPlacement> placements = live.stream().map(PartitionPlacement::of).toList();
    for (String id : ids) {
      HazelcastInstance owner = live.stream()
          .filter(m -> m.getPartitionService().getPartition(id).getOwner().localMember()).findFirst().orElseThrow();
      String ownerNode = owner.getCluster().getLocalMember().getAttribute(HazelcastSessionStoreFactory.NODE_ATTRIBUTE);
      for (PartitionPlacement p : placements) {
        assertThat(p.primaryOf(id)).as("%s: %s's placement of %s", when, p, id).isEqualTo(ownerNode);
      }
      IMap<String, HazelcastJsonValue> local = owner.getMap("placement-check");
      assertThat(local.localKeySet()).as("%s: the primary copy of %s is on %s", when, id, ownerNode).contains(id);
    }
  }

  @Test
  void membersWithoutANodeIdPlaceNothing() {
    HazelcastInstance m = cluster.start(cluster.config(1));
    assertThat(PartitionPlacement.of(m).primaryOf("any")).isNull();
  }
}
