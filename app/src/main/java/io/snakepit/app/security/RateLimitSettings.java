package io.snakepit.app.security;

import io.snakepit.config.ConfigReader;
import io.vertx.core.json.JsonObject;

/**
 * Rate limits of one key (or, without keys, of one client address) on one node: token buckets for
 * calls and for session writes, and a cap on the calls it runs at once. Zero turns a limit off.
 *
 * @param executePerS       calls started per second, sustained
 * @param executeBurst      calls that may start at once after a quiet spell
 * @param sessionWritesPerS session writes (create, put, increment, delete) per second, sustained
 * @param sessionWritesBurst session writes at once after a quiet spell
 * @param concurrentCalls   calls running at once
 */
public record RateLimitSettings(double executePerS, double executeBurst, double sessionWritesPerS,
                                double sessionWritesBurst, int concurrentCalls) {

  /** No limit at all: the default. */
  public static final RateLimitSettings NONE = new RateLimitSettings(0, 0, 0, 0, 0);

  /** Reads {@code json} (the keys of {@code security.rate-limits}) under {@code path}; unknown keys are refused. */
  public static RateLimitSettings fromJson(JsonObject json, String path) {
    ConfigReader r = new ConfigReader(json, path);
    double execute = r.doubleValue("execute-per-s", 0, 0, 1e9);
    double executeBurst = r.doubleValue("execute-burst", 0, 0, 1e9);
    double writes = r.doubleValue("session-writes-per-s", 0, 0, 1e9);
    double writesBurst = r.doubleValue("session-writes-burst", 0, 0, 1e9);
    int concurrent = r.intValue("concurrent-calls", 0, 0, 1_000_000);
    r.rejectUnknownKeys();
    // A burst of zero means "as many as the rate per second": a bucket must hold at least one token.
    return new RateLimitSettings(execute, executeBurst > 0 ? executeBurst : Math.max(1, execute), writes,
        writesBurst > 0 ? writesBurst : Math.max(1, writes), concurrent);
  }

  /** Whether any limit is on. */
  public boolean any() {
    return executePerS > 0 || sessionWritesPerS > 0 || concurrentCalls > 0;
  }
}
