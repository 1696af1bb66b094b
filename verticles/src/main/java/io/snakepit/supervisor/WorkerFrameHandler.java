package io.snakepit.supervisor;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.snakepit.protocol.Frame;
import io.snakepit.protocol.FrameType;
import io.snakepit.protocol.ProtocolException;
import io.vertx.core.json.JsonObject;
import java.util.Set;
import java.util.function.Consumer;

/**
 * What a connected worker sends, frame by frame: the answers to its calls
 * (RESULT, ERROR, CHUNK, END), heartbeats (PONG), log records (LOG) and its
 * own calls to the node (CALL). A frame a worker may not send is a protocol
 * error, which ends the worker.
 */
final class WorkerFrameHandler {

  /** Keys of a worker's ERROR body that the caller's error details carry over. */
  private static final Set<String> ERROR_DETAILS = Set.of("type", "traceback", "tools", "limit");

  private final WorkerProcess worker;
  private final InflightCalls calls;
  private final PythonLogForwarder log;

  WorkerFrameHandler(WorkerProcess worker, InflightCalls calls, PythonLogForwarder log) {
    this.worker = worker;
    this.calls = calls;
    this.log = log;
  }

  /**
   * The answer's {@code result}, bytes kept as a {@link io.vertx.core.buffer.Buffer}: {@code JsonObject.getValue}
   * would turn a top-level bytes result into a base64 string, and a multipart HTTP answer could no longer send it
   * as a binary part. Readers see no difference ({@code getString} and {@code getBuffer} read either).
   */
  private static JsonObject result(JsonObject body) {
    java.util.Map<String, Object> answer = new java.util.LinkedHashMap<>();
    answer.put("result", body.getMap().get("result"));
    return new JsonObject(answer);
  }

  void handle(Frame f) {
    if (f.type() == FrameType.RESULT || f.type() == FrameType.ERROR || f.type() == FrameType.END) {
      PoolCall traced = calls.get(f.id());
      if (traced != null && traced.span() != null) {
        // Before the answer ends the call's span: the worker's spans are its children.
        worker.pool().supervisor().tracing().report(traced.span(), traced, worker, f.body().getValue("spans"));
      }
    }
    switch (f.type()) {
      case RESULT -> finish(f.id(), false, call -> call.succeed(result(f.body())
          .put("worker", worker.id()).put("node", worker.pool().supervisor().nodeId())));
      case ERROR -> {
        PoolCall call = calls.finish(f.id());
        if (call != null) {
          call.fail(workerError(f.body(), call, worker.id()));
        }
        if ("worker_limit_exceeded".equals(f.body().getString("code"))) {
          // Memory or open files ran out under the pool's limit: the worker's state is suspect, so it is
          // replaced before it takes another call; its other calls fail with the same code.
          String limit = f.body().getString("limit", "unknown");
          worker.overLimit(limit, "Worker " + worker.id() + " breached its " + limit + " limit; it is replaced.");
        }
        if (call != null) {
          worker.pool().onCallDone(worker);
        }
      }
      case END -> finish(f.id(), true, PoolCall::end);
      case CHUNK -> {
        PoolCall call = calls.get(f.id());
        if (call != null) {
          expect(call, true, f.id());
          call.item(f.body().getValue("item"));
        }
      }
      case PONG -> worker.ponged(f.body().getLong("rss"));
      case LOG -> {
        // A record of a traced call (its request id names it) carries the call's trace id.
        PoolCall traced = f.id() == 0 ? null : calls.get(f.id());
        log.record(f.body(), traced == null || traced.span() == null ? null
            : traced.span().getSpanContext().getTraceId());
      }
      case CALL -> worker.pool().supervisor().nodeCalls().handle(worker, f);
      default -> throw new ProtocolException("a worker may not send " + f.type());
    }
  }

  /**
   * The call's last frame: answers the caller, then lets the pool reuse the worker. A frame of the wrong
   * kind for the call (END for a unary call, RESULT for a stream) is a protocol error, found before the
   * call is taken off the worker, so that replacing the worker fails the call instead of leaving it
   * unanswered.
   */
  private void finish(int requestId, boolean streamFrame, Consumer<PoolCall> answer) {
    PoolCall pending = calls.get(requestId);
    if (pending != null) {
      expect(pending, streamFrame, requestId);
    }
    PoolCall call = calls.finish(requestId);
    if (call != null) {
      answer.accept(call);
      worker.pool().onCallDone(worker);
    }
  }

  private static void expect(PoolCall call, boolean streamFrame, int requestId) {
    if (call.isStream() != streamFrame) {
      throw new ProtocolException((streamFrame ? "CHUNK or END" : "RESULT") + " for request " + requestId
          + ", which is " + (call.isStream() ? "a stream" : "not a stream"));
    }
  }

  /** A worker's ERROR body as the caller's error; anything but a known code is the tool's own failure. */
  private static SnakepitException workerError(JsonObject body, PoolCall call, String workerId) {
    ErrorCode ec = switch (body.getString("code", "tool_failed")) {
      case "unknown_tool" -> ErrorCode.UNKNOWN_TOOL;
      case "bad_request" -> ErrorCode.BAD_REQUEST;
      case "cancelled" -> ErrorCode.CANCELLED;
      // A tool's ctx.session without a session, or in one deleted while the call ran: the caller's mistake or
      // race, not the tool's failure (the worker passes only these codes through from a tool: TOOL_ERROR_CODES in errors.py).
      case "session_required" -> ErrorCode.SESSION_REQUIRED;
      case "session_not_found" -> ErrorCode.SESSION_NOT_FOUND;
      // The store refused a ctx.session write: a partition's minority side, a node that cannot prove it still
      // owns the session, a store that cannot serve. The caller's retryable 503, whichever tool met it.
      case "minority_partition" -> ErrorCode.MINORITY_PARTITION;
      case "not_owner" -> ErrorCode.NOT_OWNER;
      case "store_unavailable" -> ErrorCode.STORE_UNAVAILABLE;
      // A ctx.session write whose outcome the node cannot know (it was paused, or, in majority mode, a member
      // left its view while the write ran): the caller must read the session before it retries.
      case "node_lost" -> ErrorCode.NODE_LOST;
      // A stored value of the session failed its integrity check: the store's error, not the tool's.
      case "integrity_failed" -> ErrorCode.INTEGRITY_FAILED;
      // A limit of the pool the forkserver set on the worker (memory, open files) refused the tool.
      case "worker_limit_exceeded" -> ErrorCode.WORKER_LIMIT_EXCEEDED;
      default -> ErrorCode.TOOL_FAILED;
    };
    JsonObject details = new JsonObject().put("worker", workerId);
    for (String k : ERROR_DETAILS) {
      if (body.containsKey(k)) {
        details.put(k, body.getValue(k));
      }
    }
    String message = body.getString("message", "");
    String tool = call.executeRequest().tool();
    if (ec == ErrorCode.NOT_OWNER || ec == ErrorCode.MINORITY_PARTITION || ec == ErrorCode.STORE_UNAVAILABLE
        || ec == ErrorCode.INTEGRITY_FAILED) {
      details.put(SnakepitException.DETAIL_TOOL_RAN, true);
      message = "Tool '" + tool + "' met a refusal of the session store: " + message;
    } else if (ec == ErrorCode.NODE_LOST) {
      details.put(SnakepitException.DETAIL_TOOL_RAN, true).put("outcome", "unknown");
      message = "Tool '" + tool + "' changed the session, but whether the change was kept is unknown: " + message;
    }
    if (ec == ErrorCode.TOOL_FAILED) {
      message = "Tool '" + tool + "' raised " + body.getString("type", "an exception") + ": " + message;
    } else if (ec == ErrorCode.WORKER_LIMIT_EXCEEDED) {
      message = "Tool '" + tool + "' breached the pool's " + body.getString("limit", "") + " limit ("
          + body.getString("type", "") + ": " + message + "); the worker is replaced.";
    } else if (ec == ErrorCode.SESSION_NOT_FOUND) {
      String sid = call.executeRequest().sessionId();
      details.put("session_id", sid);
      message = "Session '" + sid + "' was deleted or expired while tool '" + tool + "' ran in it.";
    }
    return new SnakepitException(ec, message, null, details);
  }
}
