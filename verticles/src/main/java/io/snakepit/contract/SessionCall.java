package io.snakepit.contract;

/**
 * The operations a Python tool reaches through {@code ctx.session}, defined
 * once: each is a {@code ctx.call} op, served node-locally by the session
 * store at {@link #address()}, {@code snakepit.call.<op>}. Bodies and replies
 * are in docs/protocol.md.
 */
public enum SessionCall {
  GET_VAR("session.get_var"),
  PUT_VAR("session.put_var"),
  DELETE_VAR("session.delete_var"),
  /** Adds {@code by} (default 1) to a counter variable and answers the new total. */
  INCR("session.incr"),
  VARS("session.vars"),
  GET_META("session.get_meta"),
  PUT_META("session.put_meta");

  private final String op;

  SessionCall(String op) {
    this.op = op;
  }

  /** The op's name in a worker's {@code ctx.call}, e.g. {@code session.get_var}. */
  public String op() {
    return op;
  }

  /** The node-local address it is served at, {@code snakepit.call.<op>}. */
  public String address() {
    return Addresses.NODE_CALL_PREFIX + op;
  }
}
