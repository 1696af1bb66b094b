package io.snakepit.routing;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.snakepit.session.fencing.OwnershipLease;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Two stores of one adapter open on one node (a live migration between two Hazelcast maps) both publish the
 * node's placement and lease; closing either must leave the node with the other's.
 */
class LocalPublicationTest {

  private Vertx vertx;

  @BeforeEach
  void setUp() {
    vertx = Vertx.vertx();
  }

  @AfterEach
  void tearDown() {
    vertx.close().await();
  }

  private static SessionPlacement placement(String node) {
    return id -> node;
  }

  @Test
  void withdrawingTheLatestPlacementShowsTheEarlierAgain() {
    SessionPlacement source = placement("a");
    SessionPlacement target = placement("b");
    SessionPlacement.publish(vertx, source);
    SessionPlacement.publish(vertx, target);
    assertSame(target, SessionPlacement.of(vertx));
    SessionPlacement.unpublish(vertx, target); // a rollback closes the target store
    assertSame(source, SessionPlacement.of(vertx));
    SessionPlacement.unpublish(vertx, source);
    assertNull(SessionPlacement.of(vertx));
  }

  @Test
  void withdrawingTheEarlierPlacementKeepsTheLatest() {
    SessionPlacement source = placement("a");
    SessionPlacement target = placement("b");
    SessionPlacement.publish(vertx, source);
    SessionPlacement.publish(vertx, target);
    SessionPlacement.unpublish(vertx, source); // a commit closes the source store
    assertSame(target, SessionPlacement.of(vertx));
  }

  @Test
  void aSharedLeaseStaysWhileAnotherStoreStillUsesIt() {
    OwnershipLease lease = new OwnershipLease(1_000_000_000L, 1_000_000_000L, System::nanoTime);
    lease.publish(vertx); // the source store
    lease.publish(vertx); // the target store, on the same member
    lease.unpublish(vertx);
    assertSame(lease, OwnershipLease.of(vertx));
    lease.unpublish(vertx);
    assertSame(OwnershipLease.ALWAYS, OwnershipLease.of(vertx));
  }
}
