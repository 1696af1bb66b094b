package io.snakepit.contract;

import io.vertx.core.json.JsonObject;

/**
 * A call of one tool.
 *
 * @param pool          the pool to run in; {@code null} = the node's first pool
 * @param tool          the tool's name
 * @param args          keyword arguments for the tool
 * @param timeoutMs     per-call timeout; 0 = the pool's default
 * @param sessionId     the session the call runs in, or {@code null}
 * @param correlationId the request's correlation id, carried into the worker's log records
 */
public record ExecuteRequest(String pool, String tool, JsonObject args, long timeoutMs, String sessionId,
                             String correlationId, Affinity affinity) {

  /** How strongly a session call sticks to the worker that holds the session's Python-side state. */
  public enum Affinity {
    /** Prefer that worker; take another when it is busy. */
    HINT("hint"),
    /** Wait in the queue for that worker. */
    STRICT_QUEUE("strict-queue"),
    /** Fail with {@code worker_busy} when that worker is busy. */
    STRICT_FAIL_FAST("strict-fail-fast");

    private final String wire;

    Affinity(String wire) {
      this.wire = wire;
    }

    public String wire() {
      return wire;
    }

    /** The mode for a wire name, or null for an unknown one. */
    public static Affinity of(String wire) {
      for (Affinity a : values()) {
        if (a.wire.equals(wire)) {
          return a;
        }
      }
      return null;
    }
  }

  /** A call without session or affinity. */
  public ExecuteRequest(String pool, String tool, JsonObject args, long timeoutMs, String sessionId,
                        String correlationId) {
    this(pool, tool, args, timeoutMs, sessionId, correlationId, null);
  }

  /** Tools the node itself calls (state export and import); callers may not. */
  public static final String RESERVED_PREFIX = Reserved.PREFIX;

  /** Largest timeout a caller may ask for: one day. */
  public static final long MAX_TIMEOUT_MS = Addresses.CALL_SEND_TIMEOUT_MS - 60_000;

  /**
   * Reads {@code {"tool","args"?,"pool"?,"timeout_ms"?,"session_id"?}} and checks every field;
   * bad input fails with {@link ErrorCode#BAD_REQUEST} naming the field.
   */
  public static ExecuteRequest fromJson(JsonObject body, String correlationId) {
    if (body == null) {
      throw bad("the body must be a JSON object like {\"tool\": \"echo\", \"args\": {}}", correlationId);
    }
    Object tool = body.getValue("tool");
    if (!(tool instanceof String t) || t.isEmpty() || t.length() > 128) {
      throw bad("'tool' must be a non-empty string of at most 128 characters", correlationId);
    }
    if (t.startsWith(RESERVED_PREFIX)) {
      throw bad("tool names starting with " + RESERVED_PREFIX + " are reserved for the node", correlationId);
    }
    Object args = body.getValue("args");
    if (args != null && !(args instanceof JsonObject)) {
      throw bad("'args' must be a JSON object of keyword arguments", correlationId);
    }
    Object pool = body.getValue("pool");
    if (pool != null && !(pool instanceof String)) {
      throw bad("'pool' must be a string", correlationId);
    }
    Object timeout = body.getValue("timeout_ms");
    long timeoutMs = 0;
    if (timeout != null) {
      if (!(timeout instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue())
          || n.longValue() < 1 || n.longValue() > MAX_TIMEOUT_MS) {
        throw bad("'timeout_ms' must be a whole number from 1 to " + MAX_TIMEOUT_MS, correlationId);
      }
      timeoutMs = n.longValue();
    }
    Object session = body.getValue("session_id");
    if (session != null && !(session instanceof String)) {
      throw bad("'session_id' must be a string", correlationId);
    }
    Object aff = body.getValue("affinity");
    Affinity affinity = null;
    if (aff != null) {
      affinity = aff instanceof String a ? Affinity.of(a) : null;
      if (affinity == null) {
        throw bad("'affinity' must be one of hint, strict-queue, strict-fail-fast", correlationId);
      }
    }
    return new ExecuteRequest((String) pool, t, args == null ? new JsonObject() : (JsonObject) args, timeoutMs,
        (String) session, correlationId, affinity);
  }

  /**
   * The call an event-bus body carries: the record itself, as sent inside a
   * node ({@link ExecuteRequestCodec}), or its JSON, as sent by another node
   * or an application; bad input fails as {@link #fromJson} does.
   */
  public static ExecuteRequest from(Object body, String correlationId) {
    if (body instanceof ExecuteRequest request) {
      return request;
    }
    return fromJson(body instanceof JsonObject json ? json : null, correlationId);
  }

  /** The inverse of {@link #fromJson}. */
  public JsonObject toJson() {
    JsonObject j = new JsonObject().put("tool", tool).put("args", args);
    if (pool != null) {
      j.put("pool", pool);
    }
    if (timeoutMs > 0) {
      j.put("timeout_ms", timeoutMs);
    }
    if (sessionId != null) {
      j.put("session_id", sessionId);
    }
    if (affinity != null) {
      j.put("affinity", affinity.wire());
    }
    return j;
  }

  /** The same call, bound to a session's preferred worker. */
  public ExecuteRequest withSession(String id) {
    return new ExecuteRequest(pool, tool, args, timeoutMs, id, correlationId, affinity);
  }

  private static SnakepitException bad(String message, String correlationId) {
    return new SnakepitException(ErrorCode.BAD_REQUEST, message, correlationId, null);
  }
}
