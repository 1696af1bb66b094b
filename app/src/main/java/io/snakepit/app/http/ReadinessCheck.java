package io.snakepit.app.http;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

/**
 * One condition of {@code GET /ready}. The node ships two, {@code workers} (a pool
 * has a ready worker) and {@code sessions} (the session store is healthy); a
 * clustered node adds {@code cluster} (it has joined its cluster) through
 * {@link HttpApiVerticle#addReadinessCheck}. A check asks over the event bus
 * only, like everything else the HTTP verticle does.
 */
@FunctionalInterface
public interface ReadinessCheck {

  /**
   * Completes with {@code {"ok": true|false, "reason"?: "...", ...details}}; {@code reason}
   * says, for an operator, why the node is not ready. A failed future counts as not ok,
   * with the failure's message as the reason.
   *
   * @param timeoutMs how long the check may wait for an answer over the event bus
   */
  Future<JsonObject> check(Vertx vertx, long timeoutMs);
}
