package io.snakepit.app.dashboard;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Builds the dashboard's {@code figures} (docs/dashboard.md) from the cluster as this node sees it
 * ({@code snakepit.cluster.view}) and the figures each node answered about itself, and remembers the nodes it
 * has seen so that one that left stays on the page, as {@code left}, rather than vanishing without a word.
 *
 * <p>Not thread-safe: used from its verticle's context only.
 */
final class ClusterFigures {

  /** How long a node that left stays on the page. */
  static final long LEFT_KEPT_MS = 10 * 60_000;
  /** A node in the view but silent this long is shown {@code unreachable}: three missed heartbeats. */
  static final long SILENT_MS = 1_500;

  private final String nodeId;
  /** The last figures of every node seen, by id, for those that leave. */
  private final Map<String, JsonObject> seen = new TreeMap<>();

  ClusterFigures(String nodeId) {
    this.nodeId = nodeId;
  }

  /**
   * The figures now.
   *
   * @param view     the reply of {@code snakepit.cluster.view}
   * @param answered each node's own figures by node id ({@code snakepit.node.<id>.figures}); a node that did
   *                 not answer is missing
   * @param nowMs    epoch ms
   */
  JsonObject build(JsonObject view, Map<String, JsonObject> answered, long nowMs) {
    JsonArray viewed = view.getJsonArray("nodes", new JsonArray());
    long sessions = 0;
    boolean counted = false;
    for (Object o : viewed) {
      Long owned = ((JsonObject) o).getLong("sessions_owned");
      if (owned != null) {
        counted = true;
        sessions += owned;
      }
    }
    Map<String, JsonObject> nodes = new LinkedHashMap<>();
    for (Object o : viewed) {
      JsonObject n = (JsonObject) o;
      String id = n.getString("id");
      JsonObject own = answered.get(id);
      Long owned = n.getLong("sessions_owned");
      JsonObject heard = n.getJsonObject("workers", new JsonObject());
      JsonObject node = new JsonObject().put("id", id).put("state", state(n))
          .put("in_ring", n.getBoolean("in_ring", false)).put("draining", n.getBoolean("draining", false))
          .put("last_heard_ms", n.getLong("last_heard_ms")).put("http", n.getJsonObject("addresses",
              new JsonObject()).getString("http"))
          .put("sessions_owned", owned)
          .put("session_share", owned == null || sessions == 0 ? null : (double) owned / sessions)
          .put("workers_ready", heard.getInteger("ready")).put("workers_size", heard.getInteger("size"))
          .put("answered", own != null)
          .put("workers", own == null ? new JsonArray() : workers(own.getJsonArray("workers", new JsonArray())));
      nodes.put(id, node);
      seen.put(id, node.copy().put("seen_at", nowMs));
    }
    for (var it = seen.entrySet().iterator(); it.hasNext(); ) {
      var e = it.next();
      if (nodes.containsKey(e.getKey())) {
        continue;
      }
      JsonObject last = e.getValue();
      if (nowMs - last.getLong("seen_at") > LEFT_KEPT_MS) {
        it.remove();
        continue;
      }
      // Gone from the view: the node left (it said so) or the others stopped hearing it past the failure timeout.
      nodes.put(e.getKey(), last.copy().put("state", "left").put("left_at", last.getLong("seen_at"))
          .put("in_ring", false).put("sessions_owned", null).put("session_share", null).put("answered", false)
          .put("workers", new JsonArray()).put("workers_ready", 0));
    }
    nodes.values().forEach(n -> n.remove("seen_at"));
    return new JsonObject().put("at", nowMs).put("node", nodeId).put("nodes", new JsonArray(new ArrayList<>(
            new TreeMap<>(nodes).values())))
        .put("pools", pools(answered)).put("sessions", new JsonObject().put("active", counted ? sessions : null));
  }

  /** {@code serving}, {@code draining}, {@code joining} (heard, not yet in the ring) or {@code unreachable}. */
  private static String state(JsonObject n) {
    if (n.getLong("last_heard_ms", 0L) > SILENT_MS) {
      return "unreachable";
    }
    if (n.getBoolean("draining", false)) {
      return "draining";
    }
    return n.getBoolean("in_ring", false) ? "serving" : "joining";
  }

  /** What the page shows of a worker. */
  private static JsonArray workers(JsonArray all) {
    JsonArray out = new JsonArray();
    for (Object o : all) {
      JsonObject w = (JsonObject) o;
      out.add(new JsonObject().put("id", w.getString("id")).put("pool", w.getString("pool"))
          .put("state", w.getString("state")).put("pid", w.getValue("pid")).put("requests", w.getValue("requests"))
          .put("inflight", w.getValue("inflight")).put("rss_bytes", w.getValue("rss_bytes")));
    }
    return out;
  }

  /**
   * Each pool over the nodes that answered: sizes and ready workers summed, degraded where any node says so,
   * calls per second summed over each node's window, and the p99 of all their calls together (their latency
   * buckets added up, so one busy slow node weighs as much as its calls do).
   */
  static JsonArray pools(Map<String, JsonObject> answered) {
    Map<String, JsonObject> pools = new TreeMap<>();
    Map<String, Long> calls = new TreeMap<>();
    Map<String, Map<Double, Long>> buckets = new TreeMap<>();
    for (Map.Entry<String, JsonObject> e : new TreeMap<>(answered).entrySet()) {
      for (Object o : e.getValue().getJsonArray("pools", new JsonArray())) {
        JsonObject p = (JsonObject) o;
        String name = p.getString("name");
        JsonObject sum = pools.computeIfAbsent(name, k -> new JsonObject().put("name", k).put("nodes", new JsonArray())
            .put("size", 0).put("ready", 0).put("inflight", 0).put("queue_depth", 0).put("degraded_on",
                new JsonArray()).put("calls_per_s", null).put("p99_ms", null));
        sum.getJsonArray("nodes").add(e.getKey());
        for (String k : List.of("size", "ready", "inflight", "queue_depth")) {
          sum.put(k, sum.getInteger(k) + p.getInteger(k, 0));
        }
        if (p.getBoolean("degraded", false)) {
          sum.getJsonArray("degraded_on").add(e.getKey());
        }
        long windowMs = p.getLong("window_ms", 0L);
        if (windowMs > 0) {
          long n = p.getLong("calls", 0L);
          double rate = n * 1000.0 / windowMs;
          sum.put("calls_per_s", (sum.getDouble("calls_per_s") == null ? 0 : sum.getDouble("calls_per_s")) + rate);
          calls.merge(name, n, Long::sum);
          Map<Double, Long> b = buckets.computeIfAbsent(name, k -> new TreeMap<>());
          for (Object bo : p.getJsonArray("latency_buckets", new JsonArray())) {
            JsonObject bucket = (JsonObject) bo;
            b.merge(bucket.getDouble("le_ms"), bucket.getLong("count"), Long::sum);
          }
        }
      }
    }
    JsonArray out = new JsonArray();
    for (JsonObject p : pools.values()) {
      String name = p.getString("name");
      p.put("degraded", !p.getJsonArray("degraded_on").isEmpty());
      if (calls.containsKey(name)) {
        p.put("p99_ms", PoolLatencyWindow.p99(calls.get(name), buckets.get(name)));
      }
      out.add(p);
    }
    return out;
  }
}
