package io.snakepit.app.http;

import io.snakepit.contract.Addresses;
import io.snakepit.contract.Headers;
import io.snakepit.contract.SnakepitException;
import io.snakepit.session.SessionStoreClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.openapi.router.RouterBuilder;
import io.vertx.ext.web.RoutingContext;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code GET /health} (liveness), {@code GET /ready} (readiness) and
 * {@code GET /health/sessions} (the session store's figures). Everything they
 * report is asked over the event bus, with {@code health.timeout-ms} as the
 * deadline: a verticle that does not answer in time makes the node not ready.
 */
final class HealthRoutes {

  static final String UP = "UP";
  static final String DOWN = "DOWN";
  static final String DEGRADED = "DEGRADED";

  private final Vertx vertx;
  private final String nodeId;
  private final HealthConfig config;
  private final Map<String, ReadinessCheck> checks = new LinkedHashMap<>();

  HealthRoutes(Vertx vertx, String nodeId, HealthConfig config, Map<String, ReadinessCheck> extra) {
    this.vertx = vertx;
    this.nodeId = nodeId;
    this.config = config;
    checks.put("workers", HealthRoutes::workersCheck);
    checks.put("sessions", HealthRoutes::sessionsCheck);
    // Clustering adds "cluster" here (joined its cluster), through HttpApiVerticle#addReadinessCheck.
    checks.putAll(extra);
  }

  void mount(RouterBuilder api) {
    api.getRoute("health").addHandler(ctx -> ctx.json(new JsonObject().put("status", UP).put("node", nodeId)));
    api.getRoute("ready").addHandler(this::ready);
    api.getRoute("sessionsHealth").addHandler(this::sessions);
  }

  // ---- /ready --------------------------------------------------------------------------------------

  private void ready(RoutingContext ctx) {
    List<String> names = new ArrayList<>(checks.keySet());
    List<Future<JsonObject>> results = new ArrayList<>();
    for (String name : names) {
      Future<JsonObject> f;
      try {
        f = checks.get(name).check(vertx, config.timeoutMs());
      } catch (RuntimeException e) {
        f = Future.failedFuture(e);
      }
      results.add(f.recover(t -> Future.succeededFuture(new JsonObject().put("ok", false)
          .put("reason", describe(t)))));
    }
    Future.join(results).onComplete(ar -> {
      JsonObject out = new JsonObject();
      JsonArray reasons = new JsonArray();
      for (int i = 0; i < names.size(); i++) {
        JsonObject r = results.get(i).result();
        out.put(names.get(i), r);
        if (!r.getBoolean("ok", false)) {
          reasons.add(names.get(i) + ": " + r.getString("reason", "not ready"));
        }
      }
      boolean ready = reasons.isEmpty();
      JsonObject body = new JsonObject().put("status", ready ? "READY" : "NOT_READY").put("node", nodeId);
      if (!ready) {
        body.put("reasons", reasons);
      }
      body.put("checks", out);
      ctx.response().setStatusCode(ready ? 200 : 503);
      ctx.json(body);
    });
  }

  private static DeliveryOptions ask(long timeoutMs) {
    return new DeliveryOptions().setSendTimeout(timeoutMs).addHeader(Headers.CORRELATION_ID, "health");
  }

  /** A pool has at least one ready worker. */
  static Future<JsonObject> workersCheck(Vertx vertx, long timeoutMs) {
    return vertx.eventBus().<JsonObject>request(Addresses.POOLS, new JsonObject(), ask(timeoutMs)).map(m -> {
      JsonObject pools = new JsonObject();
      int ready = 0;
      List<String> notReady = new ArrayList<>();
      for (Object o : m.body().getJsonArray("pools", new JsonArray())) {
        JsonObject p = (JsonObject) o;
        int r = p.getInteger("ready", 0);
        ready += r;
        pools.put(p.getString("name"), new JsonObject().put("ready", r).put("size", p.getInteger("size", 0))
            .put("degraded", p.getBoolean("degraded", false)));
        notReady.add(p.getString("name") + " " + r + "/" + p.getInteger("size", 0) + " ready"
            + (p.getBoolean("degraded", false) ? ", degraded" : ""));
      }
      JsonObject r = new JsonObject().put("ok", ready > 0).put("ready_workers", ready).put("pools", pools);
      if (ready == 0) {
        r.put("reason", "no pool has a ready worker (" + (notReady.isEmpty() ? "no pools" : String.join("; ",
            notReady)) + ")");
      }
      return r;
    }).recover(t -> Future.succeededFuture(new JsonObject().put("ok", false)
        .put("reason", "process supervision did not answer: " + describe(t))));
  }

  /** The session store says it is UP. */
  static Future<JsonObject> sessionsCheck(Vertx vertx, long timeoutMs) {
    return SessionStoreClient.local(vertx).withTimeout(timeoutMs).health().map(body -> {
          JsonObject h = body == null ? new JsonObject() : body;
          boolean up = UP.equals(h.getString("status"));
          JsonObject r = new JsonObject().put("ok", up).put("status", h.getString("status"))
              .put("adapter", h.getString("adapter"));
          if (!up) {
            r.put("reason", "the session store reports " + h.getString("status")
                + (h.getString("reason") != null ? ": " + h.getString("reason") : ""));
          }
          return r;
        }).recover(t -> Future.succeededFuture(new JsonObject().put("ok", false).put("status", DOWN)
            .put("reason", "the session store did not answer: " + describe(t))));
  }

  // ---- /health/sessions ----------------------------------------------------------------------------

  private void sessions(RoutingContext ctx) {
    SessionStoreClient store = SessionStoreClient.local(vertx).withTimeout(config.timeoutMs());
    Future<JsonObject> health = store.health();
    Future<JsonObject> stats = store.stats();
    Future.join(health, stats).onComplete(ar -> {
      JsonObject body = judgeSessions(health.succeeded() ? health.result() : null,
          stats.succeeded() ? stats.result() : null,
          health.failed() ? describe(health.cause()) : stats.failed() ? describe(stats.cause()) : null, config);
      body.put("node", nodeId);
      ctx.response().setStatusCode(DOWN.equals(body.getString("status")) ? 503 : 200);
      ctx.json(body);
    });
  }

  /**
   * The verdict of {@code /health/sessions}: {@code DOWN} when the store is not UP or
   * does not answer; {@code DEGRADED} when, over the last minute and with at least
   * {@code min-operations} operations, its p99 latency or its error rate is past the
   * configured maximum; else {@code UP}.
   */
  static JsonObject judgeSessions(JsonObject health, JsonObject stats, String failure, HealthConfig cfg) {
    JsonObject out = new JsonObject();
    JsonArray reasons = new JsonArray();
    JsonObject recent = stats == null ? new JsonObject() : stats.getJsonObject("recent", new JsonObject());
    String status;
    if (health == null || stats == null) {
      status = DOWN;
      reasons.add("the session store did not answer: " + failure);
    } else if (!UP.equals(health.getString("status"))) {
      status = DOWN;
      reasons.add("the session store reports " + health.getString("status")
          + (health.getString("reason") != null ? ": " + health.getString("reason") : ""));
    } else {
      long ops = recent.getLong("operations", 0L);
      Double p99 = recent.getDouble("p99_ms");
      double errorRate = recent.getDouble("error_rate", 0.0);
      if (ops >= cfg.sessionsMinOperations()) {
        if (p99 != null && p99 > cfg.sessionsMaxP99Ms()) {
          reasons.add("p99 latency " + p99 + " ms is above health.sessions.max-p99-ms=" + cfg.sessionsMaxP99Ms());
        }
        if (errorRate > cfg.sessionsMaxErrorRate()) {
          reasons.add("error rate " + errorRate + " is above health.sessions.max-error-rate="
              + cfg.sessionsMaxErrorRate());
        }
      }
      status = reasons.isEmpty() ? UP : DEGRADED;
    }
    out.put("status", status);
    String adapter = health != null ? health.getString("adapter") : stats != null ? stats.getString("adapter") : null;
    out.put("adapter", adapter);
    out.put("count", stats == null ? null : stats.getLong("count"));
    out.put("window_s", recent.getInteger("window_s"));
    out.put("operations", recent.getLong("operations", 0L));
    out.put("errors", recent.getLong("errors", 0L));
    out.put("error_rate", recent.getDouble("error_rate", 0.0));
    out.put("latency_p50_ms", recent.getDouble("p50_ms"));
    out.put("latency_p99_ms", recent.getDouble("p99_ms"));
    out.put("thresholds", cfg.sessionThresholds());
    if (!reasons.isEmpty()) {
      out.put("reasons", reasons);
    }
    if (health != null) {
      out.put("store", health);
    }
    if (stats != null) {
      JsonObject raw = stats.copy();
      raw.remove("recent");
      out.put("stats", raw);
    }
    return out;
  }

  private static String describe(Throwable t) {
    SnakepitException e = SnakepitException.from(t);
    return switch (e.errorCode()) {
      case TIMEOUT -> "no answer within the timeout";
      case STARTING -> "not running (no handler on the event bus)";
      default -> e.getMessage();
    };
  }
}
