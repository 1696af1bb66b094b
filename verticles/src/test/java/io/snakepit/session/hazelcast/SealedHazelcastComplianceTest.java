package io.snakepit.session.hazelcast;

import io.snakepit.session.SessionSettings;
import io.snakepit.session.SessionStore;
import io.snakepit.session.sealing.DataKeyRing;
import io.snakepit.session.sealing.SealedSessionStore;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The compliance kit on the hazelcast adapter with session encryption, on two members: sealing changes none of
 * the store's guarantees (limits, conflicts, merges, tombstones, counters, listing).
 */
class SealedHazelcastComplianceTest extends HazelcastComplianceSupport {

  private static final DataKeyRing RING = DataKeyRing.parse(DataKeyRing.newKeyLine(1), "test");
  private static TestCluster cluster;

  @BeforeAll
  static void startMembers() {
    cluster = startCluster(2);
  }

  @AfterAll
  static void stopMembers() {
    cluster.close();
  }

  @Override
  TestCluster cluster() {
    return cluster;
  }

  @Override
  protected Future<SessionStore> newStore(Vertx vertx, SessionSettings settings) {
    return super.newStore(vertx, settings).map(s -> new SealedSessionStore(s, () -> RING, false));
  }

  @Override
  protected Future<Void> closeStore(SessionStore store) {
    return super.closeStore(((SealedSessionStore) store).sealedStore());
  }
}
