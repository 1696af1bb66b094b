package io.snakepit.contract;

/** Event-bus addresses of the product, defined once. Documented in docs/event-bus.md. */
public final class Addresses {

  private Addresses() {
  }

  /** Request-reply: run a tool; body {@code {"tool","args","pool"?,"timeout_ms"?,"session_id"?}}. */
  public static final String EXECUTE = "snakepit.execute";

  /**
   * Request-reply: open a stream; body as {@link #EXECUTE} plus {@code "sink"} (the
   * address chunks go to) and {@code "credit"}. The reply carries {@code "control"},
   * the address that takes {@code {"credit": n}} and {@code {"cancel": true}}.
   */
  public static final String STREAM_OPEN = "snakepit.stream.open";

  /** Request-reply: the node's workers; reply {@code {"workers": [...]}}. */
  public static final String WORKERS = "snakepit.workers";

  /** Request-reply: the node's pools; reply {@code {"pools": [...]}}. */
  public static final String POOLS = "snakepit.pools";

  /** Publish: system events (worker started, crashed, recycled, pool degraded, ...). */
  public static final String EVENTS = "snakepit.events";

  /**
   * Prefix of the session store's operations: {@code snakepit.session.<op>}, with ops
   * create, get, exists, delete, list, count, stats, health, var.get, var.put, var.delete,
   * vars, program.get, program.put, meta.put, served, export, import. See docs/event-bus.md.
   */
  public static final String SESSION_PREFIX = "snakepit.session.";

  /**
   * Prefix under which node services answer the calls Python workers make with
   * {@code ctx.call(op)}: {@code snakepit.call.<op>}, e.g. {@code snakepit.call.session.get_var}.
   */
  public static final String NODE_CALL_PREFIX = "snakepit.call.";

  /** Prefix of the per-stream control addresses. */
  public static final String STREAM_CONTROL_PREFIX = "snakepit.stream.control.";
}
