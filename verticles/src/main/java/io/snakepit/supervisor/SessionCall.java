package io.snakepit.supervisor;

import io.snakepit.contract.Addresses;
import io.snakepit.contract.CorrelatedLog;
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
  private final ProcessSupervisor supervisor;
  private String lastNode;
  private String lastWorker;

  SessionCall(Vertx vertx, ProcessSupervisor supervisor, ExecuteRequest request) {
    this.vertx = vertx;
    this.supervisor = supervisor;
    this.nodeId = supervisor.nodeId();
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
        .compose(m -> {
          lastNode = m.body().getString("last_node");
          lastWorker = m.body().getString("last_worker");
          boolean here = nodeId.equals(lastNode) && lastWorker != null && supervisor.isAlive(lastWorker);
          boolean pending = m.body().getBoolean("handoff_pending", false);
          if (here) {
            if (pending && !m.body().getBoolean("handoff_checkpoint", false)) {
              // This node served the session since its drain's export: its worker's state is newer than the
              // blob. A checkpoint stays, though: it is what survives if this node crashes.
              clearHandoff();
            }
            return Future.succeededFuture(lastWorker);
          }
          if (lastNode != null && !nodeId.equals(lastNode)) {
            // The session moved here (a join, a drain): pull its state from the node that served it, while the
            // call waits; if that node is gone, fall back to what it left in the store.
            return pullFrom(lastNode).compose(data -> data != null ? importState(data)
                : pending ? importHandoff() : Future.succeededFuture((String) null));
          }
          return pending ? importHandoff() : Future.succeededFuture((String) null);
        });
  }

  /**
   * The session's Python-side state was handed off (its node drained, or a
   * checkpoint was taken): import it into a worker here, which then runs the
   * call. A failed import is logged and the call runs without that state.
   */
  private Future<String> importHandoff() {
    String sid = request.sessionId();
    return vertx.eventBus().<JsonObject>request(Addresses.SESSION_PREFIX + "handoff.get",
            new JsonObject().put("id", sid), options())
        .compose(m -> {
          JsonObject h = m.body().getJsonObject("handoff");
          if (h == null || h.getString("data") == null) {
            return Future.succeededFuture((String) null);
          }
          return importState(h.getString("data"));
        })
        .recover(t -> {
          CorrelatedLog.with(request.correlationId(),
              () -> LOG.warn("Importing the handed-off state of session {} failed: {}", sid, t.getMessage()));
          return Future.succeededFuture((String) null);
        });
  }

  /** Imports base64 state into a worker here and clears any blob left in the store; completes with the worker. */
  private Future<String> importState(String base64) {
    String sid = request.sessionId();
    JsonObject args = new JsonObject().put("session_id", sid);
    // Raw in the map, so that the bytes travel as an attachment, not base64.
    args.getMap().put("data", io.vertx.core.buffer.Buffer.buffer(java.util.Base64.getDecoder().decode(base64)));
    ExecuteRequest imp = new ExecuteRequest(request.pool(), ExecuteRequest.RESERVED_PREFIX + "import__", args,
        0, null, request.correlationId());
    return supervisor.execute(imp).compose(r -> vertx.eventBus().request(Addresses.SESSION_PREFIX
            + "handoff.clear", new JsonObject().put("id", sid), options())
        .map(v -> r.getString("worker")))
        .recover(t -> {
          CorrelatedLog.with(request.correlationId(),
              () -> LOG.warn("Importing the state of session {} failed: {}", sid, t.getMessage()));
          return Future.succeededFuture((String) null);
        });
  }

  private Future<String> pullFrom(String node) {
    return vertx.eventBus().<JsonObject>request(Addresses.node(node, "handover"),
            new JsonObject().put("session_id", request.sessionId()), options().setSendTimeout(10_000))
        .map(m -> m.body().getString("data"))
        .recover(t -> Future.succeededFuture((String) null));
  }

  private void clearHandoff() {
    vertx.eventBus().request(Addresses.SESSION_PREFIX + "handoff.clear",
        new JsonObject().put("id", request.sessionId()), options());
  }

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(SessionCall.class);

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
