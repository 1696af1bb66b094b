package io.snakepit.app.security;

import java.util.Locale;

/**
 * The role a key or a token holds. Each role allows what the ones below it allow, except that
 * {@link #READER} and {@link #CALLER} are side by side: a reader reads everything and changes
 * nothing; a caller runs tools and works only in the sessions it created.
 */
public enum Role {
  /** Runs tools, creates sessions, and reads, changes and deletes the sessions it created. */
  CALLER,
  /** Reads everything over GET: pools, workers, the cluster, every session, metrics. */
  READER,
  /** A caller and a reader on every session, plus export and import. */
  OPERATOR,
  /** An operator who may also drain the node and reload a pool's code. */
  ADMIN;

  /** The role's name in keys files, tokens and errors: {@code caller}, {@code reader}, ... */
  public String wireName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** The role named {@code name} (any case), or null. */
  public static Role parse(String name) {
    if (name == null) {
      return null;
    }
    for (Role r : values()) {
      if (r.wireName().equalsIgnoreCase(name.trim())) {
        return r;
      }
    }
    return null;
  }

  /**
   * Whether this role may do what {@code access} names. For a caller, the session accesses hold
   * only for the sessions it created; {@link AccessControl} checks that part.
   */
  public boolean permits(Access access) {
    return switch (access) {
      case OPEN -> true;
      case READ -> this != CALLER;
      case CALL -> this != READER;
      case SESSION_READ -> true;
      case SESSION_WRITE -> this != READER;
      case OPERATE -> this == OPERATOR || this == ADMIN;
      case ADMIN -> this == ADMIN;
    };
  }

  /** The least role that permits {@code access} on any session: what a 403 names as required. */
  public static Role leastFor(Access access) {
    return switch (access) {
      case OPEN, CALL -> CALLER;
      case READ, SESSION_READ -> READER;
      case SESSION_WRITE, OPERATE -> OPERATOR;
      case ADMIN -> ADMIN;
    };
  }
}
