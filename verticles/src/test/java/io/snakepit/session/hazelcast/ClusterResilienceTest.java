package io.snakepit.session.hazelcast;

import static io.snakepit.session.hazelcast.TestCluster.await;
import static io.snakepit.session.hazelcast.TestCluster.get;
import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.config.Config;
import com.hazelcast.core.HazelcastInstance;
import io.snakepit.session.Session;
import io.snakepit.session.SessionLimits;
import io.snakepit.session.SessionStore;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Members die and partitions heal: acknowledged writes survive, diverged copies converge. */
class ClusterResilienceTest {

  Vertx vertx;
  TestCluster cluster;

  @BeforeEach
  void setUp() {
    vertx = Vertx.vertx();
    cluster = new TestCluster();
  }

  @AfterEach
  void tearDown() {
    cluster.close();
    get(vertx.close());
  }

  @Test
  void sessionsSurviveTheLossOfMembers() {
    cluster.start(3, 1);
    SessionStore store = cluster.store(vertx, cluster.members.get(0), SessionLimits.defaults());
    List<String> ids = new ArrayList<>();
    List<Future<?>> writes = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      String id = "b-" + i;
      ids.add(id);
      int n = i;
      writes.add(store.create(id, 0, null).compose(c -> store.putVariable(id, "n", n)));
    }
    get(Future.all(writes));

    // One member is killed (no graceful shutdown, no migration first): its primaries come back from backups.
    cluster.members.get(2).getLifecycleService().terminate();
    cluster.awaitSize(2);
    assertAll(store, ids);

    // Once the backups are re-made, a second loss is survived too.
    HazelcastInstance m0 = cluster.members.get(0);
    await(() -> m0.getPartitionService().isClusterSafe(), "backups re-made");
    cluster.members.get(1).getLifecycleService().terminate();
    cluster.awaitSize(1);
    assertAll(store, ids);
    assertThat(get(store.count())).isEqualTo(100);
    assertThat(get(store.putVariable("b-1", "after", true)).variable("after")).isEqualTo(true);
  }

  private static void assertAll(SessionStore store, List<String> ids) {
    for (int i = 0; i < ids.size(); i++) {
      Session s = get(store.get(ids.get(i)));
      assertThat(((Number) s.variable("n")).intValue()).isEqualTo(i);
    }
  }

  /**
   * A real split brain in one JVM: two members of one cluster name that cannot
   * see each other (each one's TCP-IP list holds only itself) form two
   * clusters and take diverging writes; then each learns the other's address,
   * Hazelcast's split-brain handler finds the other cluster and merges the
   * smaller into the larger through {@link HlcMergePolicy}.
   */
  @Test
  void partitionHealsByHlcMerge() {
    Config ca = splitConfig(cluster.basePort);
    Config cb = splitConfig(cluster.basePort + 20);
    HazelcastInstance a = cluster.start(ca);
    HazelcastInstance b = cluster.start(cb);
    assertThat(a.getCluster().getMembers()).hasSize(1);
    assertThat(b.getCluster().getMembers()).hasSize(1);
    SessionStore sa = cluster.store(vertx, a, SessionLimits.defaults());
    SessionStore sb = cluster.store(vertx, b, SessionLimits.defaults());

    // Side A writes first, side B later: B's write to "shared" is the last one.
    get(sa.create("split", 0, null));
    get(sa.putVariable("split", "shared", "from-a"));
    get(sa.putVariable("split", "onlyA", 1));
    get(sa.create("gone", 0, null));
    get(sa.create("onlyOnA", 0, null));
    get(sb.create("gone", 0, null));
    get(sb.putVariable("gone", "x", "written on b"));
    get(sb.create("split", 0, null));
    get(sb.putVariable("split", "onlyB", 2));
    long lastOnA = sa.settings().clock().now();
    await(() -> sb.settings().clock().now() > lastOnA, "B's clock past A's last write");
    get(sb.putVariable("split", "shared", "from-b"));
    get(sa.delete("gone"));

    // Heal: each member may now find the other.
    ca.getNetworkConfig().getJoin().getTcpIpConfig().addMember("127.0.0.1:" + (cluster.basePort + 20));
    cb.getNetworkConfig().getJoin().getTcpIpConfig().addMember("127.0.0.1:" + cluster.basePort);
    cluster.awaitSize(2);

    for (SessionStore s : List.of(sa, sb)) {
      await(() -> {
        Session split = get(s.get("split").otherwiseEmpty());
        return split != null && Objects.equals(split.variable("shared"), "from-b")
            && Objects.equals(split.variable("onlyA"), 1) && Objects.equals(split.variable("onlyB"), 2)
            && !get(s.exists("gone")) && get(s.exists("onlyOnA"));
      }, "converged copies");
    }
  }

  private Config splitConfig(int port) {
    Config c = cluster.config(1);
    c.getNetworkConfig().setPort(port).setPortAutoIncrement(false);
    c.getNetworkConfig().getJoin().getTcpIpConfig().clear().addMember("127.0.0.1:" + port);
    c.setProperty(HazelcastSessionStoreFactory.MERGE_FIRST_RUN_DELAY_PROPERTY, "1");
    c.setProperty(HazelcastSessionStoreFactory.MERGE_NEXT_RUN_DELAY_PROPERTY, "1");
    return c;
  }
}
