package io.snakepit.app.cli;

/** Exit codes of the admin commands (documented in docs/operations.md). */
public final class ExitCodes {

  private ExitCodes() {
  }

  /** Done as asked. */
  public static final int OK = 0;
  /** The node answered with an error; its code, message and correlation id were printed. */
  public static final int NODE_ERROR = 1;
  /** The command line is wrong (picocli's own usage-error code). */
  public static final int USAGE = 2;
  /** The node could not be reached (refused, timed out, connection lost). */
  public static final int UNREACHABLE = 3;
  /** Partly done: an import where some lines failed. */
  public static final int PARTIAL = 4;
  /** {@code health}: the node is live but not ready, or its session store is not UP. */
  public static final int UNHEALTHY = 5;
}
