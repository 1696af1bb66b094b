package io.snakepit.events;

import static io.snakepit.events.EventNode.NODE_ID;
import static io.snakepit.events.EventNode.alive;
import static io.snakepit.events.EventNode.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.client.ExecuteResult;
import io.snakepit.contract.Addresses;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

/**
 * The events of docs/event-bus.md, as an application that follows
 * {@code snakepit.events} receives them: session expiry, worker start and
 * recycling, pool degradation and recovery, each with its documented fields.
 * Real Python workers throughout; node events are covered with the cluster.
 */
class EventsTest {

  /** The fields every event has: {@code type}, {@code node}, {@code at} (epoch ms, not in the future). */
  private static void assertCommonFields(JsonObject e, String type, long notBefore) {
    assertThat(e.getString("type")).isEqualTo(type);
    assertThat(e.getString("node")).isEqualTo(NODE_ID);
    assertThat(e.getValue("at")).isInstanceOf(Long.class);
    assertThat(e.getLong("at")).isBetween(notBefore, System.currentTimeMillis());
  }

  /** The worker fields of {@code worker.*} events, as {@code snakepit.workers} reports a worker. */
  private static void assertWorkerFields(JsonObject e) {
    assertThat(e.getString("id")).startsWith("default-");
    assertThat(e.getString("pool")).isEqualTo("default");
    assertThat(e.getLong("pid")).isPositive();
    assertThat(e.getString("state")).isNotEmpty();
    assertThat(e.getValue("requests")).isInstanceOf(Number.class);
    assertThat(e.getValue("inflight")).isInstanceOf(Number.class);
    assertThat(e.getValue("rss_bytes")).isInstanceOf(Number.class);
    assertThat(e.getLong("started_at")).isPositive();
  }

  @Test
  void theSweepRemovingASessionPublishesSessionExpired() throws Exception {
    long t0 = System.currentTimeMillis();
    try (EventNode node = new EventNode().sessions(new JsonObject().put("sweep-interval-ms", 20))) {
      JsonObject created = await(node.vertx.eventBus().<JsonObject>request(Addresses.SESSION_PREFIX + "create",
          new JsonObject().put("id", "short-lived").put("ttl_s", 0.2))).body();
      assertThat(created.getBoolean("created")).isTrue();
      // Nothing reads the session again: only the sweep can notice that it expired.
      JsonObject e = node.follower.await("session.expired", ev -> "short-lived".equals(ev.getString("session_id")));
      assertCommonFields(e, "session.expired", t0);
      assertThat(e.fieldNames()).containsExactlyInAnyOrder("type", "node", "at", "session_id");
      assertThat(node.follower.find("session.deleted", ev -> true)).isEmpty();
      JsonObject exists = await(node.vertx.eventBus().<JsonObject>request(Addresses.SESSION_PREFIX + "exists",
          new JsonObject().put("id", "short-lived"))).body();
      assertThat(exists.getBoolean("exists")).isFalse();
    }
  }

  @Test
  void workersAnnounceTheirStartAndTheirRecyclingAfterMaxRequests() throws Exception {
    long t0 = System.currentTimeMillis();
    try (EventNode node = new EventNode().pool(new JsonObject().put("size", 1).put("max-requests", 1)).routing()) {
      JsonObject started = node.follower.await("worker.started", ev -> true);
      assertCommonFields(started, "worker.started", t0);
      assertWorkerFields(started);
      assertThat(started.getString("state")).isEqualTo("ready");
      long firstPid = started.getLong("pid");
      assertThat(alive(firstPid)).as("worker.started names the real process").isTrue();

      ExecuteResult r = await(node.follower.client.execute("info", new JsonObject()));
      assertThat(((JsonObject) r.result()).getLong("pid")).isEqualTo(firstPid);

      JsonObject recycled = node.follower.await("worker.recycled", ev -> true);
      assertCommonFields(recycled, "worker.recycled", t0);
      assertWorkerFields(recycled);
      assertThat(recycled.getString("id")).isEqualTo(started.getString("id"));
      assertThat(recycled.getLong("pid")).isEqualTo(firstPid);
      assertThat(recycled.getLong("requests")).isEqualTo(1);
      assertThat(recycled.getString("reason")).contains("max-requests=1");

      JsonObject replacement = node.follower.await("worker.started", ev -> ev.getLong("pid") != firstPid);
      assertWorkerFields(replacement);
      assertThat(replacement.getString("id")).isNotEqualTo(started.getString("id"));
      assertThat(node.follower.all("worker.crashed")).as("a recycle is not a crash").isEmpty();
    }
  }

  @Test
  void aPoolWhoseAdapterFailsToImportIsDegradedThenRecoversOnceTheModuleIsFixed() throws Exception {
    long t0 = System.currentTimeMillis();
    try (EventNode node = new EventNode()) {
      node.module("mending", "raise RuntimeError('mending is not configured yet')\n");
      node.pool(new JsonObject().put("size", 1).put("adapter", "mending:Mended").put("restart-max", 1)
          .put("backoff-min-ms", 20).put("backoff-max-ms", 200)).routing();

      JsonObject degraded = node.follower.await("pool.degraded", ev -> true);
      assertCommonFields(degraded, "pool.degraded", t0);
      assertThat(degraded.fieldNames()).containsExactlyInAnyOrder("type", "node", "at", "pool", "failures", "stderr");
      assertThat(degraded.getString("pool")).isEqualTo("default");
      // restart-max=1: the pool degrades at the second failure within the window.
      assertThat(degraded.getInteger("failures")).isEqualTo(2);
      assertThat(degraded.getString("stderr")).contains("mending is not configured yet");
      assertThat(node.follower.all("worker.crashed")).hasSizeGreaterThanOrEqualTo(2);
      assertThat(node.follower.all("worker.started")).isEmpty();

      // The operator fixes the module; the degraded pool's next probe starts a worker from it.
      node.module("mending", """
          from snakepit_worker import Adapter, tool


          class Mended(Adapter):
              @tool
              def ping(self):
                  return "pong"
          """);
      JsonObject recovered = node.follower.await("pool.recovered", ev -> true);
      assertCommonFields(recovered, "pool.recovered", t0);
      assertThat(recovered.getString("pool")).isEqualTo("default");
      assertThat(recovered.fieldNames()).containsExactlyInAnyOrder("type", "node", "at", "pool");
      // The worker that ended the degradation announced itself first.
      int startedAt = node.follower.events.indexOf(node.follower.await("worker.started", ev -> true));
      assertThat(startedAt).isLessThan(node.follower.events.indexOf(recovered));
      assertThat(await(node.follower.client.execute("ping", new JsonObject())).result()).isEqualTo("pong");
    }
  }
}
