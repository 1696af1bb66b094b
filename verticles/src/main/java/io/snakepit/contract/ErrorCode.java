package io.snakepit.contract;

/**
 * Every failure a caller can meet, with the HTTP status it maps to and a hint
 * that says what to do about it. The wire name ({@link #code()}) is stable and
 * documented; clients switch on it.
 */
public enum ErrorCode {
  BAD_REQUEST("bad_request", 400, "Fix the request as the message says and send it again."),
  NOT_FOUND("not_found", 404, "Check the path against the API reference in docs/."),
  PAYLOAD_TOO_LARGE("payload_too_large", 413, "Send a smaller body, or raise the configured limit."),
  UNKNOWN_TOOL("unknown_tool", 404, "Call one of the tools listed in 'tools', or check the pool's adapter."),
  UNKNOWN_POOL("unknown_pool", 404, "Use one of the configured pools listed in 'pools'."),
  TOOL_FAILED("tool_failed", 500, "The Python tool raised an exception; see 'type', 'message' and 'traceback'."),
  WORKER_CRASHED("worker_crashed", 502, "The worker died during the call and is being replaced; retry if the tool is idempotent. See 'stderr'."),
  WORKER_BUSY("worker_busy", 409, "The session's worker is busy; retry later or use affinity 'hint' or 'strict-queue'."),
  TIMEOUT("timeout", 504, "The call ran past its timeout and was cancelled; raise 'timeout_ms' or make the tool faster."),
  CANCELLED("cancelled", 499, "The call was cancelled before it finished."),
  OVERLOADED("overloaded", 503, "The pool's queue is full; retry with backoff, or add workers."),
  QUEUE_TIMEOUT("queue_timeout", 503, "No worker became free within the queue timeout; retry with backoff, or add workers."),
  POOL_DEGRADED("pool_degraded", 503, "The pool's workers keep failing to start; check the adapter and the node's log."),
  NO_WORKERS("no_workers", 503, "The pool has no ready worker yet; retry shortly."),
  SHUTTING_DOWN("shutting_down", 503, "The node is stopping; send the call to another node."),
  PROTOCOL_ERROR("protocol_error", 502, "A worker broke the wire protocol and was replaced; check the worker's version."),
  INTERNAL("internal", 500, "An unexpected error in the node; report it with the correlation id.");

  private final String code;
  private final int httpStatus;
  private final String hint;

  ErrorCode(String code, int httpStatus, String hint) {
    this.code = code;
    this.httpStatus = httpStatus;
    this.hint = hint;
  }

  /** The stable wire name, e.g. {@code worker_crashed}. */
  public String code() {
    return code;
  }

  /** The HTTP status the HTTP API answers with. */
  public int httpStatus() {
    return httpStatus;
  }

  /** What the caller should do about it. */
  public String hint() {
    return hint;
  }

  /** Looks a code up by wire name; unknown names map to {@link #INTERNAL}. */
  public static ErrorCode fromCode(String code) {
    for (ErrorCode c : values()) {
      if (c.code.equals(code)) {
        return c;
      }
    }
    return INTERNAL;
  }
}
