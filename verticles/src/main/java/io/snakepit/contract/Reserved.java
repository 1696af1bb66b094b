package io.snakepit.contract;

/**
 * Names that belong to the node: tools it calls on workers (state export and
 * import) and session metadata it keeps for itself. Users cannot register,
 * call or set them, and they never leave the node in an answer or an export.
 * The Python worker's {@code adapter.RESERVED_PREFIX} is the same string.
 */
public final class Reserved {

  private Reserved() {
  }

  /** The prefix of every reserved name. */
  public static final String PREFIX = "__snakepit_";

  /**
   * The metadata key naming the principal who created a session (docs/security.md): set by the node's HTTP and
   * gRPC APIs when a session is created with authentication on, shown like any metadata, and never changed
   * afterwards, so that a tool cannot hand a session to another caller.
   */
  public static final String CREATED_BY = "snakepit.principal";

  /** Whether {@code name} is reserved. */
  public static boolean isReserved(String name) {
    return name != null && name.startsWith(PREFIX);
  }
}
