package io.snakepit.client;

import io.vertx.core.json.JsonObject;

/** A tool call to make with {@link SnakepitClient}: a fluent description, sent as JSON. */
public final class Call {

  private final String tool;
  private JsonObject args = new JsonObject();
  private String pool;
  private long timeoutMs;
  private String sessionId;
  private String affinity;
  private String correlationId;

  public Call(String tool) {
    this.tool = tool;
  }

  public Call args(JsonObject args) {
    this.args = args == null ? new JsonObject() : args;
    return this;
  }

  public Call pool(String pool) {
    this.pool = pool;
    return this;
  }

  /** Per-call timeout; 0 = the pool's {@code call-timeout-ms}. */
  public Call timeoutMs(long timeoutMs) {
    this.timeoutMs = timeoutMs;
    return this;
  }

  /** Runs the call in a session (which must exist). */
  public Call session(String sessionId) {
    this.sessionId = sessionId;
    return this;
  }

  /** {@code hint}, {@code strict-queue} or {@code strict-fail-fast}. */
  public Call affinity(String affinity) {
    this.affinity = affinity;
    return this;
  }

  /** The id that finds every log line of this call, in Java and Python; generated when not set. */
  public Call correlationId(String correlationId) {
    this.correlationId = correlationId;
    return this;
  }

  String correlationId() {
    return correlationId;
  }

  JsonObject toJson(ClientOptions options) {
    JsonObject j = new JsonObject().put("tool", tool).put("args", args);
    String p = pool != null ? pool : options.getDefaultPool();
    if (p != null) {
      j.put("pool", p);
    }
    if (timeoutMs > 0) {
      j.put("timeout_ms", timeoutMs);
    }
    if (sessionId != null) {
      j.put("session_id", sessionId);
    }
    if (affinity != null) {
      j.put("affinity", affinity);
    }
    return j;
  }
}
