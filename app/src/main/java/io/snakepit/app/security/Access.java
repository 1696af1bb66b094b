package io.snakepit.app.security;

/**
 * What an operation of the APIs needs from its caller's role (docs/security.md has the whole matrix).
 * Session operations are split from the rest because a {@link Role#CALLER} may do them on the sessions
 * it created, and on no others.
 */
public enum Access {
  /** Anyone, authenticated or not: the liveness and readiness probes, the API contract. */
  OPEN,
  /** Reading the node's state: pools, workers, the cluster, the session list, health details, metrics. */
  READ,
  /** Running a tool, and creating a session. */
  CALL,
  /** Reading one session: its record, variables, programs. */
  SESSION_READ,
  /** Changing one session, deleting it, or running a tool in it. */
  SESSION_WRITE,
  /** Bulk access to every session: export and import. */
  OPERATE,
  /** Running the node itself: drain, code reload. */
  ADMIN
}
