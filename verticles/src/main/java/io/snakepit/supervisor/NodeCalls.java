package io.snakepit.supervisor;

import io.snakepit.contract.Addresses;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.Headers;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.snakepit.protocol.Frame;
import io.snakepit.protocol.FrameType;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Serves the CALL frames workers send to their node ({@code ctx.call} in
 * Python). An operation registered here runs in place; any other goes over
 * the event bus to {@code snakepit.call.<op>}, where other verticles serve
 * theirs (the session store serves {@code session.*}). An operation nobody
 * serves gets an {@code unknown_op} error, never silence.
 *
 * <p>A {@code session.*} call may only name a session that one of the
 * worker's own in-flight calls runs in: a tool reaches its own session, not
 * somebody else's.
 */
public final class NodeCalls {

  private final Vertx vertx;

  NodeCalls(Vertx vertx) {
    this.vertx = vertx;
  }

  /** One operation: takes the call's arguments and who asked, returns a JSON-able result. */
  @FunctionalInterface
  public interface Operation {
    Future<Object> call(JsonObject args, String workerId);
  }

  private final Map<String, Operation> operations = new ConcurrentHashMap<>();
  /** Spans of traced calls, when the node traces; null otherwise. */
  private CallTracing tracing;

  void traceWith(CallTracing tracing) {
    this.tracing = tracing;
  }

  /** Registers (or replaces) an operation. */
  public void register(String op, Operation operation) {
    operations.put(op, operation);
  }

  void handle(WorkerProcess worker, Frame frame) {
    Object opValue = frame.body().getValue("op");
    if (!(opValue instanceof String op) || op.isEmpty()) {
      reply(worker, frame.id(), null, ErrorCode.BAD_REQUEST.code(), "a CALL needs an 'op' string");
      return;
    }
    String cid = null;
    if (op.startsWith("session.")) {
      Object sid = frame.body().getValue("session_id");
      PoolCall owner = sid instanceof String s ? worker.inflightCallInSession(s) : null;
      if (owner == null) {
        reply(worker, frame.id(), null, ErrorCode.SESSION_REQUIRED.code(), sid == null
            ? "this call runs without a session; make it with one (POST /v1/sessions/{id}/execute)"
            : "session '" + sid + "' is not the session of a call running on this worker");
        return;
      }
      cid = owner.executeRequest().correlationId();
    }
    Operation operation = operations.get(op);
    JsonObject args = frame.body();
    io.opentelemetry.api.trace.Span span = null;
    io.opentelemetry.context.Scope scope = null;
    if (args.containsKey(Headers.TRACEPARENT)) {
      // A traced tool's call: the operation's arguments do not include the trace; the node's span for it does.
      args = args.copy();
      Object traceparent = args.remove(Headers.TRACEPARENT);
      if (tracing != null) {
        span = tracing.startNodeCallSpan(op, traceparent, worker.id(),
            args.getValue("session_id") instanceof String s ? s : null);
        // Current while the operation starts, so the event-bus request to the store is its child.
        scope = span == null ? null : io.opentelemetry.context.Context.current().with(span).makeCurrent();
      }
    }
    Future<Object> result;
    try {
      result = operation != null ? operation.call(args, worker.id()) : forward(op, args, worker, cid);
    } catch (RuntimeException e) {
      result = Future.failedFuture(e);
    } finally {
      if (scope != null) {
        scope.close();
      }
    }
    io.opentelemetry.api.trace.Span opSpan = span;
    result.onComplete(ar -> {
      if (opSpan != null) {
        CallTracing.end(opSpan, ar.succeeded() ? null : SnakepitException.from(ar.cause()).errorCode().code());
      }
      if (ar.succeeded()) {
        reply(worker, frame.id(), ar.result(), null, null);
      } else {
        SnakepitException e = SnakepitException.from(ar.cause());
        reply(worker, frame.id(), null, e.errorCode().code(), e.getMessage());
      }
    });
  }

  private Future<Object> forward(String op, JsonObject args, WorkerProcess worker, String cid) {
    DeliveryOptions opts = new DeliveryOptions().addHeader(Headers.WORKER_ID, worker.id());
    if (cid != null) {
      opts.addHeader(Headers.CORRELATION_ID, cid);
    }
    return vertx.eventBus().request(Addresses.NODE_CALL_PREFIX + op, args, opts)
        .map(m -> (Object) m.body())
        .recover(t -> t instanceof ReplyException re && re.failureType() == ReplyFailure.NO_HANDLERS
            ? Future.failedFuture(new SnakepitException(ErrorCode.UNKNOWN_OP, "the node offers no operation '" + op
                + "'" + (op.startsWith("session.") ? " (is the session store deployed?)" : "")))
            : Future.failedFuture(t));
  }

  private static void reply(WorkerProcess worker, int id, Object result, String code, String message) {
    JsonObject body = code == null ? new JsonObject().put("result", result)
        : new JsonObject().put("error", new JsonObject().put("code", code).put("message", message));
    worker.send(Frame.of(FrameType.CALL_RESULT, id, body));
  }
}
