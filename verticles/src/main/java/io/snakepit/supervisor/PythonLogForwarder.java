package io.snakepit.supervisor;

import io.vertx.core.json.JsonObject;
import java.util.ArrayDeque;
import java.util.Deque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * One worker's Python output in the node's log: its logging records and the
 * stdout and stderr lines it forwards in LOG frames go to the logger
 * {@code snakepit.python}, prefixed and tagged (MDC {@code worker_id},
 * {@code correlation_id}) with who wrote them. Keeps the last stderr lines,
 * which a crash report carries when the capture file has nothing.
 */
final class PythonLogForwarder {

  private static final Logger PY_LOG = LoggerFactory.getLogger("snakepit.python");
  private static final int STDERR_LINES_KEPT = 40;
  private static final int STDERR_LINE_CHARS_KEPT = 1000;

  private final String workerId;
  private final Deque<String> lastStderr = new ArrayDeque<>();

  PythonLogForwarder(String workerId) {
    this.workerId = workerId;
  }

  /** Logs one LOG frame's record: {@code {"message","level","logger","stream","correlation_id"}}. */
  void record(JsonObject rec) {
    record(rec, null);
  }

  /**
   * As {@link #record(JsonObject)}, for a record written by a traced call: the line carries the call's
   * {@code traceId} beside its correlation id (null: untraced).
   */
  void record(JsonObject rec, String traceId) {
    String message = rec.getString("message", "");
    if ("stderr".equals(rec.getString("stream"))) {
      rememberStderr(message);
    }
    String cid = rec.getString("correlation_id");
    MDC.put("worker_id", workerId);
    if (cid != null) {
      MDC.put("correlation_id", cid);
    }
    if (traceId != null) {
      MDC.put(io.snakepit.contract.SpanAttributes.MDC_TRACE_ID, traceId);
    }
    try {
      String level = rec.getString("level", "INFO");
      String logger = rec.getString("logger", "python");
      switch (level) {
        case "CRITICAL", "ERROR" -> PY_LOG.error("[{}] {}: {}", workerId, logger, message);
        case "WARNING", "WARN" -> PY_LOG.warn("[{}] {}: {}", workerId, logger, message);
        case "DEBUG" -> PY_LOG.debug("[{}] {}: {}", workerId, logger, message);
        default -> PY_LOG.info("[{}] {}: {}", workerId, logger, message);
      }
    } finally {
      MDC.remove("worker_id");
      MDC.remove("correlation_id");
      if (traceId != null) {
        MDC.remove(io.snakepit.contract.SpanAttributes.MDC_TRACE_ID);
      }
    }
  }

  private void rememberStderr(String line) {
    if (lastStderr.size() == STDERR_LINES_KEPT) {
      lastStderr.removeFirst();
    }
    lastStderr.addLast(line.length() > STDERR_LINE_CHARS_KEPT ? line.substring(0, STDERR_LINE_CHARS_KEPT) : line);
  }

  /**
   * The worker's last words, for its crash report: the capture file's tail
   * when it holds any (the runtime tees sys.stderr there synchronously, so it
   * survives SIGKILL, while lines forwarded over the socket may not), else the
   * last stderr lines forwarded. A worker that exited while STARTING had no
   * socket to forward anything on, so its capture is logged here too.
   */
  String lastWords(String capturedTail, boolean exitedWhileStarting) {
    boolean captured = capturedTail != null && !capturedTail.isBlank();
    if (captured && exitedWhileStarting) {
      PY_LOG.warn("[{}] exited before connecting; its output:\n{}", workerId, capturedTail.strip());
    }
    return captured ? capturedTail.strip() : String.join("\n", lastStderr);
  }
}
