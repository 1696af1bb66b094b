package io.snakepit.app.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

/** The verdict of /health/sessions from the store's figures. */
class HealthJudgementTest {

  private final HealthConfig cfg = HealthConfig.fromJson(new JsonObject().put("sessions",
      new JsonObject().put("max-p99-ms", 10).put("max-error-rate", 0.1).put("min-operations", 20)));
  private final JsonObject up = new JsonObject().put("status", "UP").put("adapter", "x");

  private static JsonObject stats(long ops, long errors, double p99) {
    return new JsonObject().put("adapter", "x").put("count", 5).put("recent", new JsonObject().put("window_s", 60)
        .put("operations", ops).put("errors", errors).put("error_rate", ops == 0 ? 0.0 : (double) errors / ops)
        .put("p50_ms", p99 / 2).put("p99_ms", p99));
  }

  @Test
  void upWhenWithinThresholds() {
    JsonObject v = HealthRoutes.judgeSessions(up, stats(100, 1, 5), null, cfg);
    assertThat(v.getString("status")).isEqualTo("UP");
    assertThat(v.getLong("count")).isEqualTo(5);
    assertThat(v.containsKey("reasons")).isFalse();
  }

  @Test
  void degradedPastTheErrorRateOrTheLatency() {
    JsonObject errors = HealthRoutes.judgeSessions(up, stats(100, 20, 5), null, cfg);
    assertThat(errors.getString("status")).isEqualTo("DEGRADED");
    assertThat(errors.getJsonArray("reasons").encode()).contains("max-error-rate");
    JsonObject slow = HealthRoutes.judgeSessions(up, stats(100, 0, 50), null, cfg);
    assertThat(slow.getString("status")).isEqualTo("DEGRADED");
    assertThat(slow.getJsonArray("reasons").encode()).contains("max-p99-ms");
  }

  @Test
  void tooFewOperationsAreNotJudged() {
    assertThat(HealthRoutes.judgeSessions(up, stats(19, 19, 500), null, cfg).getString("status")).isEqualTo("UP");
  }

  @Test
  void downWhenTheStoreSaysSoOrDoesNotAnswer() {
    JsonObject down = HealthRoutes.judgeSessions(new JsonObject().put("status", "DOWN").put("reason", "disk gone"),
        stats(0, 0, 0), null, cfg);
    assertThat(down.getString("status")).isEqualTo("DOWN");
    assertThat(down.getJsonArray("reasons").encode()).contains("disk gone");
    JsonObject silent = HealthRoutes.judgeSessions(null, null, "no answer within the timeout", cfg);
    assertThat(silent.getString("status")).isEqualTo("DOWN");
    assertThat(silent.getJsonArray("reasons").encode()).contains("did not answer");
  }
}
