package io.snakepit.contract;

/**
 * Every failure a caller can meet, with the HTTP status it maps to and a hint
 * that says what to do about it. The wire name ({@link #code()}) is stable and
 * documented; clients switch on it.
 */
public enum ErrorCode {
  BAD_REQUEST("bad_request", 400, "Fix the request as the message says and send it again."),
  NOT_FOUND("not_found", 404, "Check the path against the API reference in docs/."),
  UNAUTHENTICATED("unauthenticated", 401, "Send a valid token: 'Authorization: Bearer <key or JWT>' (gRPC: metadata 'authorization'); the CLI takes --token, SNAKEPIT_TOKEN or --token-file. See docs/security.md."),
  FORBIDDEN("forbidden", 403, "The token's role or scope does not allow this ('required' names what does); use a key with that role, or ask an admin for one. See docs/security.md."),
  RATE_LIMITED("rate_limited", 429, "Too many requests for this key on this node; wait for Retry-After seconds ('retry_after_s'), then send again."),
  PAYLOAD_TOO_LARGE("payload_too_large", 413, "Send a smaller body, or raise the configured limit."),
  UNKNOWN_TOOL("unknown_tool", 404, "Call one of the tools listed in 'tools', or check the pool's adapter."),
  UNKNOWN_POOL("unknown_pool", 404, "Use one of the configured pools listed in 'pools'."),
  TOOL_FAILED("tool_failed", 500, "The Python tool raised an exception; see 'type', 'message' and 'traceback'."),
  WORKER_CRASHED("worker_crashed", 502, "The worker died during the call and is being replaced; retry if the tool is idempotent. See 'stderr'."),
  WORKER_LIMIT_EXCEEDED("worker_limit_exceeded", 422, "The call breached a limit of its pool ('limit': memory, processes, open_files or cpu) and its worker was replaced; make the tool use less, or raise the pool's max-* setting."),
  WORKER_BUSY("worker_busy", 409, "The session's worker is busy; retry later or use affinity 'hint' or 'strict-queue'."),
  TIMEOUT("timeout", 504, "The call ran past its timeout and was cancelled; raise 'timeout_ms' or make the tool faster."),
  CANCELLED("cancelled", 499, "The call was cancelled before it finished."),
  OVERLOADED("overloaded", 503, "The pool's queue is full; retry with backoff, or add workers."),
  QUEUE_TIMEOUT("queue_timeout", 503, "No worker became free within the queue timeout; retry with backoff, or add workers."),
  POOL_DEGRADED("pool_degraded", 503, "The pool's workers keep failing to start; check the adapter and the node's log."),
  NO_WORKERS("no_workers", 503, "The pool has no ready worker yet; retry shortly."),
  STARTING("starting", 503, "The node is starting and serves no calls yet; retry after the Retry-After delay, or send the call to another node."),
  SHUTTING_DOWN("shutting_down", 503, "The node is stopping; send the call to another node."),
  PROTOCOL_ERROR("protocol_error", 502, "A worker broke the wire protocol and was replaced; check the worker's version."),
  SESSION_NOT_FOUND("session_not_found", 404, "Create the session first (POST /v1/sessions), or check its id; it may have expired."),
  NOT_FOUND_IN_SESSION("not_found_in_session", 404, "The session has no such variable or program; set it first."),
  CONFLICT("conflict", 409, "The session changed concurrently too many times; retry the operation."),
  LIMIT_EXCEEDED("limit_exceeded", 413, "The change would pass a configured session limit; see 'limit' and docs/configuration.md."),
  SESSION_REQUIRED("session_required", 400, "This operation needs a session; call /v1/sessions/{id}/execute."),
  UNKNOWN_OP("unknown_op", 400, "The worker asked the node for an operation it does not offer; upgrade the worker or the node."),
  STORE_UNAVAILABLE("store_unavailable", 503, "The session store cannot serve right now; retry, and check /health/sessions."),
  NODE_LOST("node_lost", 502, "The node running the call left the cluster during it; retry if the tool is idempotent."),
  OWNER_UNAVAILABLE("owner_unavailable", 503, "No node could take the call while the cluster was changing; retry shortly."),
  MINORITY_PARTITION("minority_partition", 503, "This node is on the minority side of a network partition and refuses session writes and calls in sessions; retry against the majority or wait for the partition to heal."),
  NOT_OWNER("not_owner", 503, "This node cannot currently prove it owns the session (it was paused, or is cut off from members it has not yet seen leave), so it refused the write before applying it; the router retries on the owner; retry shortly if it still reaches you."),
  RELOAD_FAILED("reload_failed", 422, "The pool's new code did not load (see 'error', with the ImportError); the old workers keep serving. Fix the code on disk and reload again."),
  RELOAD_IN_PROGRESS("reload_in_progress", 409, "A reload of this pool is already running; follow it in GET /v1/pools ('reload') or the pool.reload.* events, and reload again once it has ended."),
  INTEGRITY_FAILED("integrity_failed", 500, "A stored session entry failed its integrity check (tampered with, forged by a process that holds no data key, or sealed with a key missing from sessions.encryption.key-file) and was not served; check the node's log and the key file, then restore the session from an export or delete it."),
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
