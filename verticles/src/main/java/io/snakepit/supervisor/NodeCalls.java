package io.snakepit.supervisor;

import io.snakepit.contract.SnakepitException;
import io.snakepit.protocol.Frame;
import io.snakepit.protocol.FrameType;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Serves the CALL frames workers send to their node ({@code ctx.call} in
 * Python). Other parts of the node register operations by name, e.g. the
 * session store registers {@code session.get_var}; an unknown operation gets
 * an {@code unknown_op} error, never silence.
 */
public final class NodeCalls {

  /** One operation: takes the call's arguments and who asked, returns a JSON-able result. */
  @FunctionalInterface
  public interface Operation {
    Future<Object> call(JsonObject args, String workerId);
  }

  private final Map<String, Operation> operations = new ConcurrentHashMap<>();

  /** Registers (or replaces) an operation. */
  public void register(String op, Operation operation) {
    operations.put(op, operation);
  }

  void handle(WorkerProcess worker, Frame frame) {
    String op = frame.body().getString("op");
    Operation operation = op == null ? null : operations.get(op);
    if (operation == null) {
      reply(worker, frame.id(), null, "unknown_op",
          "the node offers no operation '" + op + "'; known: " + String.join(", ", operations.keySet()));
      return;
    }
    Future<Object> result;
    try {
      result = operation.call(frame.body(), worker.id);
    } catch (RuntimeException e) {
      result = Future.failedFuture(e);
    }
    result.onComplete(ar -> {
      if (ar.succeeded()) {
        reply(worker, frame.id(), ar.result(), null, null);
      } else {
        SnakepitException e = SnakepitException.from(ar.cause());
        reply(worker, frame.id(), null, e.errorCode().code(), e.getMessage());
      }
    });
  }

  private static void reply(WorkerProcess worker, int id, Object result, String code, String message) {
    JsonObject body = code == null ? new JsonObject().put("result", result)
        : new JsonObject().put("error", new JsonObject().put("code", code).put("message", message));
    worker.send(Frame.of(FrameType.CALL_RESULT, id, body));
  }
}
