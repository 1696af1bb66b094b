package io.snakepit.session.hazelcast;

import io.snakepit.session.SessionSettings;
import io.snakepit.session.SessionStore;
import io.snakepit.session.compliance.SessionStoreCompliance;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The compliance kit against the adapter on a cluster that the subclass starts
 * once per class. Each store gets a map of its own (so it starts empty) and a
 * member in turn; closing it destroys the map.
 */
abstract class HazelcastComplianceSupport extends SessionStoreCompliance {

  private final AtomicInteger next = new AtomicInteger();

  abstract TestCluster cluster();

  static TestCluster startCluster(int members) {
    TestCluster c = new TestCluster();
    try {
      for (int i = 0; i < members; i++) {
        var config = c.config(1);
        config.addMapConfig(HazelcastSessionStoreFactory.mapConfig("kit-*", 1));
        c.start(config);
      }
      c.awaitSize(members);
      return c;
    } catch (RuntimeException e) {
      c.close();
      throw e;
    }
  }

  @Override
  protected Future<SessionStore> newStore(Vertx vertx, SessionSettings settings) {
    TestCluster c = cluster();
    var member = c.members.get(next.getAndIncrement() % c.members.size());
    return HazelcastSessionStoreFactory.create(vertx, settings,
        new JsonObject().put("map-name", "kit-" + UUID.randomUUID()), member);
  }

  @Override
  protected Future<Void> closeStore(SessionStore store) {
    HazelcastSessionStore hs = (HazelcastSessionStore) store;
    return store.close().compose(v -> vertx.executeBlocking(() -> {
      hs.map().destroy();
      return null;
    }, false));
  }
}
