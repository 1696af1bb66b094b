package io.snakepit.session;

import io.snakepit.config.ConfigReader;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.json.JsonObject;

/**
 * Limits on sessions, configured under {@code sessions.limits}. Every change
 * is checked against them before anything is stored.
 *
 * @param maxSessions         live sessions a store may hold
 * @param maxVariables        variables per session
 * @param maxValueBytes       encoded size of one variable's value
 * @param maxPrograms         programs per session
 * @param maxProgramBytes     encoded size of one program
 * @param maxMetadataBytes    encoded size of a session's whole metadata
 * @param maxNameLength       length of a variable name, program id or metadata key
 * @param defaultTtlMs        TTL of a session created without one
 * @param maxTtlMs            the longest TTL a client may ask for
 * @param maxUpdateRetries    optimistic retries before {@code conflict}
 * @param touchGranularityMs  reads within this long of the last recorded access do not record a new one
 */
public record SessionLimits(long maxSessions, int maxVariables, int maxValueBytes, int maxPrograms,
                            int maxProgramBytes, int maxMetadataBytes, int maxNameLength, long defaultTtlMs,
                            long maxTtlMs, int maxUpdateRetries, long touchGranularityMs) {

  public static SessionLimits defaults() {
    return fromJson(new JsonObject(), "sessions.limits");
  }

  public static SessionLimits fromJson(JsonObject json, String path) {
    ConfigReader r = new ConfigReader(json, path);
    long day = 86_400_000L;
    SessionLimits l = new SessionLimits(
        r.longValue("max-sessions", 1_000_000, 1, Long.MAX_VALUE),
        r.intValue("max-variables", 1_000, 0, 1_000_000),
        r.intValue("max-value-bytes", 64 * 1024, 16, 64 * 1024 * 1024),
        r.intValue("max-programs", 100, 0, 100_000),
        r.intValue("max-program-bytes", 256 * 1024, 16, 64 * 1024 * 1024),
        r.intValue("max-metadata-bytes", 16 * 1024, 16, 64 * 1024 * 1024),
        r.intValue("max-name-length", 128, 1, 1024),
        r.longValue("default-ttl-s", 3600, 1, 365 * 86_400L) * 1000,
        r.longValue("max-ttl-s", 7 * 86_400, 1, 3650 * 86_400L) * 1000,
        r.intValue("max-update-retries", 16, 1, 1000),
        r.longValue("touch-granularity-ms", 1000, 0, day));
    r.rejectUnknownKeys();
    if (l.defaultTtlMs > l.maxTtlMs) {
      throw new io.snakepit.config.ConfigException(r.key("default-ttl-s") + " must not exceed max-ttl-s");
    }
    return l;
  }

  /** The TTL to use for a requested one (0 = default); {@code bad_request} past the maximum. */
  public long ttl(long requestedMs) {
    if (requestedMs == 0) {
      return defaultTtlMs;
    }
    if (requestedMs < 0 || requestedMs > maxTtlMs) {
      throw new SnakepitException(ErrorCode.BAD_REQUEST, "ttl_s must be between 1 and " + maxTtlMs / 1000
          + " (sessions.limits.max-ttl-s), got " + requestedMs / 1000.0);
    }
    return requestedMs;
  }

  /** Checks a name (variable, program id, metadata key). */
  public void checkName(String kind, String name) {
    if (name == null || name.isEmpty() || name.length() > maxNameLength) {
      throw new SnakepitException(ErrorCode.BAD_REQUEST, kind + " must be 1 to " + maxNameLength
          + " characters, got " + (name == null ? "none" : name.length()));
    }
  }

  /**
   * Checks a metadata key a change (not a create) writes: as {@link #checkMetadataKey}, and not the creator's
   * name ({@link io.snakepit.contract.Reserved#CREATED_BY}), which only a create sets.
   */
  public void checkMetadataChange(String key) {
    checkMetadataKey(key);
    if (io.snakepit.contract.Reserved.CREATED_BY.equals(key)) {
      throw new SnakepitException(ErrorCode.BAD_REQUEST, "metadata key " + key + " names who created the session "
          + "and cannot change after the create; choose another key");
    }
  }

  /** Checks a metadata key: as {@link #checkName}, and not one of the node's reserved keys. */
  public void checkMetadataKey(String key) {
    checkName("a metadata key", key);
    if (io.snakepit.contract.Reserved.isReserved(key)) {
      throw new SnakepitException(ErrorCode.BAD_REQUEST, "metadata keys starting with "
          + io.snakepit.contract.Reserved.PREFIX + " are reserved for the node; choose another key");
    }
  }

  /** Checks a session against every count and size limit. */
  public void check(Session s) {
    if (s.variableCount() > maxVariables) {
      throw exceeded("max-variables", maxVariables, s.variableCount(), "variables");
    }
    if (s.programCount() > maxPrograms) {
      throw exceeded("max-programs", maxPrograms, s.programCount(), "programs");
    }
    int metaBytes = 0;
    for (var e : s.metadata().entrySet()) {
      if (!e.getValue().deleted() && !io.snakepit.contract.Reserved.isReserved(e.getKey())) {
        metaBytes += e.getKey().length() + encodedSize(e.getValue().value());
      }
    }
    if (metaBytes > maxMetadataBytes) {
      throw exceeded("max-metadata-bytes", maxMetadataBytes, metaBytes, "bytes of metadata");
    }
  }

  public void checkValue(Object value) {
    int size = encodedSize(value);
    if (size > maxValueBytes) {
      throw exceeded("max-value-bytes", maxValueBytes, size, "bytes in the value");
    }
  }

  public void checkProgram(JsonObject doc) {
    int size = encodedSize(doc);
    if (size > maxProgramBytes) {
      throw exceeded("max-program-bytes", maxProgramBytes, size, "bytes in the program");
    }
  }

  static int encodedSize(Object value) {
    if (value == null) {
      return 4;
    }
    if (value instanceof String str) {
      // A value sealed by sessions.encryption counts as the size of what it holds, as it would in clear.
      int sealed = io.snakepit.session.sealing.ValueSealer.plainSize(str);
      return sealed >= 0 ? sealed : str.length() + 2;
    }
    if (value instanceof Number || value instanceof Boolean) {
      return 8;
    }
    return io.vertx.core.json.Json.encode(value).length();
  }

  private static SnakepitException exceeded(String limit, long max, long actual, String what) {
    return new SnakepitException(ErrorCode.LIMIT_EXCEEDED, "The change would leave " + actual + " " + what
        + "; the limit is " + max + " (sessions.limits." + limit + ").", null,
        new JsonObject().put("limit", limit).put("max", max).put("actual", actual));
  }
}
