package io.snakepit.app.dashboard;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The dashboard's figures from a cluster view and the nodes' own figures; the latency window behind them. */
class ClusterFiguresTest {

  private static JsonObject viewed(String id, long owned, boolean draining, long heardMs) {
    return new JsonObject().put("id", id).put("sessions_owned", owned).put("draining", draining).put("in_ring", true)
        .put("last_heard_ms", heardMs).put("addresses", new JsonObject().put("http", id + ":8080"))
        .put("workers", new JsonObject().put("ready", 2).put("size", 2));
  }

  private static JsonObject own(String pool, long calls, long windowMs, boolean degraded, long... cumulative) {
    JsonArray buckets = new JsonArray();
    double[] bounds = {1, 5, 10};
    for (int i = 0; i < cumulative.length; i++) {
      buckets.add(new JsonObject().put("le_ms", bounds[i]).put("count", cumulative[i]));
    }
    return new JsonObject().put("workers", new JsonArray().add(new JsonObject().put("id", "w").put("state", "ready")))
        .put("pools", new JsonArray().add(new JsonObject().put("name", pool).put("size", 2).put("ready", 2)
            .put("degraded", degraded).put("calls", calls).put("window_ms", windowMs)
            .put("latency_buckets", buckets)));
  }

  @Test
  void nodesHaveTheirStateAndShareAndANodeThatLeftStaysAsLeft() {
    ClusterFigures figures = new ClusterFigures("n1");
    JsonObject view = new JsonObject().put("nodes", new JsonArray().add(viewed("n1", 30, false, 100))
        .add(viewed("n2", 10, true, 100)).add(viewed("n3", 60, false, 5_000)));
    JsonObject f = figures.build(view, Map.of("n1", own("default", 10, 1000, false, 5, 10, 10)), 1_000);
    JsonArray nodes = f.getJsonArray("nodes");
    assertThat(nodes).hasSize(3);
    assertThat(nodes.getJsonObject(0).getString("state")).isEqualTo("serving");
    assertThat(nodes.getJsonObject(0).getDouble("session_share")).isCloseTo(0.3, within(1e-9));
    assertThat(nodes.getJsonObject(0).getBoolean("answered")).isTrue();
    assertThat(nodes.getJsonObject(1).getString("state")).isEqualTo("draining");
    assertThat(nodes.getJsonObject(1).getBoolean("answered")).isFalse();
    assertThat(nodes.getJsonObject(2).getString("state")).isEqualTo("unreachable");
    assertThat(f.getJsonObject("sessions").getLong("active")).isEqualTo(100);

    JsonObject without = new JsonObject().put("nodes", new JsonArray().add(viewed("n1", 30, false, 100))
        .add(viewed("n2", 10, false, 100)));
    JsonArray after = figures.build(without, Map.of(), 2_000).getJsonArray("nodes");
    assertThat(after).hasSize(3);
    JsonObject gone = after.getJsonObject(2);
    assertThat(gone.getString("id")).isEqualTo("n3");
    assertThat(gone.getString("state")).isEqualTo("left");
    assertThat(gone.getLong("left_at")).isEqualTo(1_000);
    assertThat(gone.getJsonArray("workers")).isEmpty();
    // Forgotten once it has been gone long enough.
    assertThat(figures.build(without, Map.of(), 2_000 + ClusterFigures.LEFT_KEPT_MS).getJsonArray("nodes"))
        .hasSize(2);
  }

  @Test
  void poolsAddUpOverNodesAndTheirP99ComesFromTheirBucketsTogether() {
    // n1: 100 calls in 1 s, all under 1 ms; n2: 100 calls in 2 s, 10 of them between 5 and 10 ms.
    JsonArray pools = ClusterFigures.pools(new TreeMap<>(Map.of("n1", own("default", 100, 1000, false, 100, 100, 100),
        "n2", own("default", 100, 2000, true, 80, 90, 100))));
    JsonObject p = pools.getJsonObject(0);
    assertThat(p.getDouble("calls_per_s")).isCloseTo(150.0, within(1e-9));
    assertThat(p.getInteger("size")).isEqualTo(4);
    assertThat(p.getBoolean("degraded")).isTrue();
    assertThat(p.getJsonArray("degraded_on")).containsExactly("n2");
    // 200 calls, rank 198: 190 at or under 5 ms, 10 between 5 and 10 → 5 + 5 * 8/10.
    assertThat(p.getDouble("p99_ms")).isCloseTo(9.0, within(1e-9));
  }

  @Test
  void theWindowCountsOnlyCallsSinceItsBase() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    Timer t = Timer.builder(PoolLatencyWindow.TIMER).tags("pool", "p", "tool", "a", "outcome", "ok")
        .serviceLevelObjectives(Duration.ofMillis(1), Duration.ofMillis(10)).register(registry);
    PoolLatencyWindow window = new PoolLatencyWindow(registry);
    t.record(Duration.ofMillis(50));
    JsonObject first = window.sample(0).get("p");
    assertThat(first.getLong("window_ms")).isZero();
    for (int i = 0; i < 4; i++) {
      t.record(Duration.ofNanos(500_000));
    }
    JsonObject second = window.sample(2_000_000_000L).get("p");
    assertThat(second.getLong("calls")).isEqualTo(4);
    assertThat(second.getLong("window_ms")).isEqualTo(2000);
    assertThat(second.getJsonArray("latency_buckets").getJsonObject(0).getLong("count")).isEqualTo(4);
    // Past the window, the base moves up to the newest sample at or before its start.
    t.record(Duration.ofMillis(5));
    JsonObject third = window.sample(2_000_000_000L + PoolLatencyWindow.WINDOW_MS * 1_000_000).get("p");
    assertThat(third.getLong("calls")).isEqualTo(1);
    assertThat(PoolLatencyWindow.p99(0, Map.of())).isNull();
  }
}
