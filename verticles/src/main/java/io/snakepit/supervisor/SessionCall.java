package io.snakepit.supervisor;

import io.snakepit.contract.Addresses;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.Headers;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonObject;
import java.util.Objects;

/**
 * The session side of one call, through the session store on the event bus:
 * before the call, check that the session exists and touch it, and learn
 * which worker holds its state; after it, record the worker that served it.
 * A call without a session does nothing here.
 */
final class SessionCall {

  private final Vertx vertx;
  private final String nodeId;
  private final ExecuteRequest request;
  private String lastNode;
  private String lastWorker;

  SessionCall(Vertx vertx, String nodeId, ExecuteRequest request) {
    this.vertx = vertx;
    this.nodeId = nodeId;
    this.request = request;
  }

  private DeliveryOptions options() {
    DeliveryOptions o = new DeliveryOptions();
    if (request.correlationId() != null) {
      o.addHeader(Headers.CORRELATION_ID, request.correlationId());
    }
    return o;
  }

  /** Checks and touches the session; completes with the worker to prefer on this node, or null. */
  Future<String> begin() {
    if (request.sessionId() == null) {
      return Future.succeededFuture();
    }
    return vertx.eventBus().<JsonObject>request(Addresses.SESSION_PREFIX + "get",
            new JsonObject().put("id", request.sessionId()), options())
        .recover(t -> Future.failedFuture(t instanceof ReplyException re && re.failureType() == ReplyFailure.NO_HANDLERS
            ? new SnakepitException(ErrorCode.SESSION_NOT_FOUND,
                "This node has no session store, so calls cannot run in a session.")
            : SnakepitException.from(t)))
        .map(m -> {
          lastNode = m.body().getString("last_node");
          lastWorker = m.body().getString("last_worker");
          return nodeId.equals(lastNode) ? lastWorker : null;
        });
  }

  /** Records the serving worker when it changed; completes once recorded, so the next call sees it. */
  Future<Void> served(String workerId) {
    if (request.sessionId() == null || (Objects.equals(lastWorker, workerId) && nodeId.equals(lastNode))) {
      return Future.succeededFuture();
    }
    lastWorker = workerId;
    lastNode = nodeId;
    return vertx.eventBus().request(Addresses.SESSION_PREFIX + "served", new JsonObject()
            .put("id", request.sessionId()).put("node", nodeId).put("worker", workerId), options())
        // The session may have been deleted meanwhile; the call's own result still stands.
        .<Void>mapEmpty().recover(t -> Future.succeededFuture());
  }
}
