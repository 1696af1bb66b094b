package io.snakepit.app.security;

/** Which of a key's rate limits an operation counts against. */
public enum RateKind {
  /** None: reads, probes, admin operations. */
  NONE,
  /** The call rate and the concurrent calls: every execute. */
  CALL,
  /** The session-write rate: create, put, increment, delete. */
  WRITE
}
