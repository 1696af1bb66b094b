package io.snakepit.session.hazelcast;

import static io.snakepit.session.hazelcast.TestCluster.get;
import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.config.Config;
import io.snakepit.routing.SessionPlacement;
import io.snakepit.session.SessionLimits;
import io.snakepit.session.fencing.OwnershipLease;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/**
 * A live migration between two maps of one cluster opens two stores on each node's member. Whichever closes
 * first (the source at a commit, the target at a rollback), the other keeps the node's ownership lease ticking
 * and its placement published, so the node goes on serving its sessions.
 */
class TwoStoresOfOneMemberTest {

  @Test
  void closingEitherStoreLeavesTheOtherItsLeaseAndPlacement() throws InterruptedException {
    TestCluster tc = new TestCluster();
    Config c = tc.config(1);
    c.getMemberAttributeConfig().setAttribute(HazelcastSessionStoreFactory.NODE_ATTRIBUTE, "n1");
    Vertx vertx = get(Vertx.builder().withClusterManager(new HazelcastClusterManager(c)).buildClustered());
    try {
      JsonObject fencing = new JsonObject().put("lease-ms", 300);
      HazelcastSessionStore source = (HazelcastSessionStore) get(new HazelcastSessionStoreFactory().create(vertx,
          TestCluster.settings("n1", SessionLimits.defaults()), new JsonObject().put("fencing", fencing)));
      HazelcastSessionStore target = (HazelcastSessionStore) get(new HazelcastSessionStoreFactory().create(vertx,
          TestCluster.settings("n1", SessionLimits.defaults()), new JsonObject().put("map-name", "second")
              .put("fencing", fencing)));
      assertThat(target.keeper()).as("one keeper for the member").isSameAs(source.keeper());
      get(source.close()); // a commit retires the source

      // The lease still ticks: well past the lease time, it is held and the target's writes go through.
      LeaseKeeper keeper = target.keeper();
      long ticks = keeper.ticks();
      Instant deadline = Instant.now().plus(Duration.ofSeconds(30));
      while (keeper.ticks() < ticks + 30) { // three lease times, at a tick per tenth of one
        assertThat(Instant.now()).as("the lease ticks on").isBefore(deadline);
        Thread.sleep(10);
      }
      assertThat(OwnershipLease.of(vertx).held()).isTrue();
      assertThat(SessionPlacement.of(vertx)).isNotNull();
      get(target.create("s", 0, null));
      get(target.putVariable("s", "v", 1));
      assertThat(get(target.getVariable("s", "v"))).isEqualTo(1);

      get(target.close());
      assertThat(OwnershipLease.of(vertx)).isSameAs(OwnershipLease.ALWAYS);
      assertThat(SessionPlacement.of(vertx)).isNull();
    } finally {
      get(vertx.close());
    }
  }
}
