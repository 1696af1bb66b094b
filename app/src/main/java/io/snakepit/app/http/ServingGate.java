package io.snakepit.app.http;

import io.snakepit.app.ServingState;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.util.Set;

/**
 * The HTTP API's gate: while the node is not serving ({@link ServingState}),
 * every request but the probes, {@code /metrics} and {@code /openapi.json} is
 * answered 503 with the typed error ({@code starting} or {@code shutting_down},
 * the correlation id, {@code Retry-After}), so that a call never meets a node
 * whose router is not deployed yet or any more. Runs after the correlation id
 * and the body are read, before validation and the routes.
 */
final class ServingGate implements Handler<RoutingContext> {

  /** What answers whatever the phase: liveness and readiness probes, metrics, the contract. */
  static final Set<String> ALWAYS_OPEN = Set.of("/health", "/health/sessions", "/ready", "/metrics", "/openapi.json");

  private final ServingState state;

  ServingGate(ServingState state) {
    this.state = state;
  }

  @Override
  public void handle(RoutingContext ctx) {
    SnakepitException refused = state.refusal();
    if (refused == null || ALWAYS_OPEN.contains(ctx.normalizedPath())) {
      ctx.next();
      return;
    }
    if (!ctx.request().isEnded()) {
      // An import's body is not read before its route: read it into the void, so that the answer arrives
      // (closing a connection with unread data resets it) and the connection stays usable.
      ctx.request().handler(ignored -> { }).resume();
    } else if (state.phase() == ServingState.Phase.STOPPING) {
      // A stopping node closes its connections anyway: the client should open its next one elsewhere.
      ctx.response().putHeader("Connection", "close");
    }
    HttpApiVerticle.fail(ctx, refused);
  }

  /** {@code Retry-After} on every answer whose code asks the client to come back: starting, shutting_down. */
  static void retryAfter(RoutingContext ctx, ErrorCode code) {
    if (code == ErrorCode.STARTING || code == ErrorCode.SHUTTING_DOWN) {
      ctx.response().putHeader("Retry-After", Integer.toString(ServingState.RETRY_AFTER_S));
    }
  }

  /** The {@code serving} condition of {@code GET /ready}: not ready while starting or stopping. */
  static ReadinessCheck readinessCheck(ServingState state) {
    return (vertx, timeoutMs) -> {
      JsonObject r = new JsonObject().put("ok", state.isServing()).put("phase", state.toString());
      return Future.succeededFuture(switch (state.phase()) {
        case SERVING -> r;
        case STARTING -> r.put("reason", "the node is starting: its router is not deployed yet");
        case STOPPING -> r.put("reason", "the node is stopping");
      });
    };
  }
}
