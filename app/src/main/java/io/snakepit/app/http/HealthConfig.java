package io.snakepit.app.http;

import io.snakepit.config.ConfigReader;
import io.vertx.core.json.JsonObject;

/**
 * The {@code health} section of the node's configuration: when
 * {@code /health/sessions} reports {@code DEGRADED}, and how long the health
 * endpoints wait for the verticles they ask. See docs/configuration.md.
 *
 * @param timeoutMs             how long {@code /ready} and {@code /health/sessions} wait for an answer over the event bus
 * @param sessionsMaxP99Ms      p99 latency of session operations (over the last minute) above which the store is degraded
 * @param sessionsMaxErrorRate  share of failed session operations (over the last minute) above which the store is degraded
 * @param sessionsMinOperations fewer operations than this in the window are too few to judge the error rate and latency
 */
public record HealthConfig(long timeoutMs, double sessionsMaxP99Ms, double sessionsMaxErrorRate,
                           long sessionsMinOperations) {

  /** Reads and validates the section; {@code json} may be empty. Unknown keys are refused. */
  public static HealthConfig fromJson(JsonObject json) {
    ConfigReader r = new ConfigReader(json, "health");
    long timeout = r.longValue("timeout-ms", 2000, 10, 60_000);
    JsonObject sessions = r.object("sessions");
    r.rejectUnknownKeys();
    ConfigReader s = new ConfigReader(sessions, "health.sessions");
    double p99 = s.doubleValue("max-p99-ms", 100, 1e-6, 3_600_000);
    double errorRate = s.doubleValue("max-error-rate", 0.05, 0, 1);
    long minOps = s.longValue("min-operations", 20, 1, 1_000_000_000);
    s.rejectUnknownKeys();
    return new HealthConfig(timeout, p99, errorRate, minOps);
  }

  /** The settings as {@code /health/sessions} shows them. */
  JsonObject sessionThresholds() {
    return new JsonObject().put("max_p99_ms", sessionsMaxP99Ms).put("max_error_rate", sessionsMaxErrorRate)
        .put("min_operations", sessionsMinOperations);
  }
}
