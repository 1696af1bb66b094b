package io.snakepit.session.migration;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.session.HybridLogicalClock;
import io.snakepit.session.Session;
import io.snakepit.session.SessionSettings;
import io.snakepit.session.SessionStore;
import io.snakepit.session.compliance.SessionStoreTestSupport;
import io.snakepit.session.memory.MemorySessionStoreFactory;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;
import org.junit.jupiter.api.Test;

/**
 * A node's durable memory store migrated to the hazelcast adapter (one embedded member) under a load of
 * counters, through verify, cutover and commit: every acknowledged increment, TTL and tombstone is in Hazelcast.
 */
class MemoryToHazelcastMigrationTest extends SessionStoreTestSupport {

  private static final int SESSIONS = 200;

  @Override
  protected Future<SessionStore> newStore(Vertx vertx, SessionSettings settings) {
    return new MemorySessionStoreFactory().create(vertx, settings, new JsonObject());
  }

  @Test
  void aLiveMigrationToHazelcastKeepsEveryAcknowledgedWrite() throws Exception {
    SessionSettings st = new SessionSettings(NODE, new HybridLogicalClock(), limits(), newDataDir().toString(), 200,
        3_600_000);
    StoreMigration m = await(StoreMigration.open(vertx, "memory", st, () -> new MemorySessionStoreFactory()
        .create(vertx, st, new JsonObject().put("persistence", true).put("durability", "write-behind"))));
    MigratingSessionStore store = m.store();
    try {
      for (int i = 0; i < SESSIONS; i++) {
        await(store.create("h-" + i, 300_000 + i, null));
        await(store.putVariable("h-" + i, "gone", i));
        await(store.deleteVariable("h-" + i, "gone"));
      }
      AtomicLongArray acked = new AtomicLongArray(SESSIONS);
      AtomicBoolean stop = new AtomicBoolean();
      List<Callable<Long>> writers = new ArrayList<>();
      for (int w = 0; w < 4; w++) {
        writers.add(() -> {
          long n = 0;
          while (!stop.get() || n < 20) {
            int i = ThreadLocalRandom.current().nextInt(SESSIONS);
            await(store.increment("h-" + i, "count", 1));
            acked.incrementAndGet(i);
            n++;
          }
          return n;
        });
      }
      var load = newPool(5).submit(() -> runConcurrently(writers));

      int port = 30_000 + ThreadLocalRandom.current().nextInt(200) * 50;
      JsonObject hz = new JsonObject().put("backup-count", 0).put("embedded", new JsonObject()
          .put("cluster-name", "snakepit-migration-" + UUID.randomUUID()).put("port", port)
          .put("interface", "127.0.0.1").put("members", new JsonArray().add("127.0.0.1:" + port)));
      await(m.start(new JsonObject().put("to", "hazelcast").put("settings", hz)));
      assertThat(store.target().name()).isEqualTo("hazelcast");
      pollUntil("the backfill is done", Duration.ofSeconds(90),
          () -> m.status().getJsonObject("backfill").getBoolean("done"));
      stop.set(true);
      load.get(60, java.util.concurrent.TimeUnit.SECONDS);

      await(m.verify());
      pollUntil("the verify is done", Duration.ofSeconds(90), () -> {
        JsonObject v = m.status().getJsonObject("verify");
        return v != null && "done".equals(v.getString("state"));
      });
      JsonObject v = m.status().getJsonObject("verify");
      assertThat(v.getBoolean("passed")).as(v.encode()).isTrue();
      assertThat(v.getLong("target_count")).isEqualTo((long) SESSIONS);
      await(m.cutover());
      await(m.commit());
      assertThat(store.name()).isEqualTo("hazelcast");
      for (int i = 0; i < SESSIONS; i++) {
        Session s = await(store.get("h-" + i));
        long count = s.hasVariable("count") ? ((Number) s.variable("count")).longValue() : 0;
        assertThat(count).as("acknowledged increments of h-%d", i).isEqualTo(acked.get(i));
        assertThat(s.ttlMs()).isEqualTo(300_000L + i);
        assertThat(s.variables().get("gone").deleted()).isTrue();
      }
    } finally {
      await(m.close());
      await(store.close());
    }
  }
}
