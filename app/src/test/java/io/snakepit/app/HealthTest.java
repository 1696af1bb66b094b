package io.snakepit.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.snakepit.config.ConfigException;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** /health, /ready and /health/sessions of real nodes, healthy, degraded and not ready. */
class HealthTest {

  @Test
  void aNodeWithReadyWorkersAndAHealthyStoreIsReadyAndItsStoreUp() throws Exception {
    try (TestNode n = TestNode.start("health-up",
        new JsonObject().put("pools", new JsonObject().put("default", new JsonObject().put("size", 1))))) {
      assertThat(n.get("/health").statusCode()).isEqualTo(200);
      HttpResponse<String> ready = n.get("/ready");
      assertThat(ready.statusCode()).isEqualTo(200);
      JsonObject body = new JsonObject(ready.body());
      assertThat(body.getString("status")).isEqualTo("READY");
      assertThat(body.getJsonObject("checks").getJsonObject("workers").getBoolean("ok")).isTrue();
      assertThat(body.getJsonObject("checks").getJsonObject("workers").getInteger("ready_workers")).isEqualTo(1);
      assertThat(body.getJsonObject("checks").getJsonObject("sessions").getString("status")).isEqualTo("UP");
      assertThat(body.containsKey("reasons")).isFalse();

      n.send("POST", "/v1/sessions", "{\"id\":\"h1\"}");
      HttpResponse<String> sessions = n.get("/health/sessions");
      assertThat(sessions.statusCode()).isEqualTo(200);
      JsonObject s = new JsonObject(sessions.body());
      assertThat(s.getString("status")).isEqualTo("UP");
      assertThat(s.getString("adapter")).isEqualTo("memory");
      assertThat(s.getLong("count")).isEqualTo(1);
      assertThat(s.getLong("operations")).isGreaterThanOrEqualTo(1);
      assertThat(s.getDouble("latency_p99_ms")).isPositive();
      assertThat(s.getDouble("error_rate")).isZero();
      assertThat(s.getJsonObject("thresholds").getDouble("max_p99_ms")).isEqualTo(100.0);
    }
  }

  @Test
  void thresholdsFromTheConfigurationMakeTheStoreDegradedButTheNodeStaysReady() throws Exception {
    // Any operation takes longer than a picosecond: the p99 threshold is passed for certain.
    JsonObject cfg = new JsonObject()
        .put("pools", new JsonObject().put("default", new JsonObject().put("size", 1)))
        .put("health", new JsonObject().put("sessions", new JsonObject().put("max-p99-ms", 0.000001)
            .put("min-operations", 1)));
    try (TestNode n = TestNode.start("health-degraded", cfg)) {
      JsonObject before = new JsonObject(n.get("/health/sessions").body());
      assertThat(before.getString("status")).as("no operations yet: nothing to judge").isEqualTo("UP");
      n.send("POST", "/v1/sessions", "{\"id\":\"d1\"}");
      HttpResponse<String> r = n.get("/health/sessions");
      assertThat(r.statusCode()).isEqualTo(200);
      JsonObject s = new JsonObject(r.body());
      assertThat(s.getString("status")).isEqualTo("DEGRADED");
      assertThat(s.getJsonArray("reasons").encode()).contains("health.sessions.max-p99-ms");
      assertThat(n.get("/ready").statusCode()).isEqualTo(200);
    }
  }

  @Test
  void aNodeWhosePoolCannotStartIsLiveButNotReadyAndSaysWhy() throws Exception {
    JsonObject pool = new JsonObject().put("size", 1).put("adapter", "snakepit_no_such_module:Nope")
        .put("restart-max", 1).put("backoff-min-ms", 1).put("backoff-max-ms", 50);
    try (TestNode n = TestNode.start("health-not-ready",
        new JsonObject().put("pools", new JsonObject().put("default", pool)))) {
      assertThat(n.get("/health").statusCode()).isEqualTo(200);
      HttpResponse<String> r = n.get("/ready");
      assertThat(r.statusCode()).isEqualTo(503);
      JsonObject body = new JsonObject(r.body());
      assertThat(body.getString("status")).isEqualTo("NOT_READY");
      assertThat(body.getJsonArray("reasons").encode()).contains("workers: no pool has a ready worker")
          .contains("default 0/1 ready");
      assertThat(body.getJsonObject("checks").getJsonObject("sessions").getBoolean("ok")).isTrue();

      CliRun health = CliRun.cli("health", "--url", n.url());
      assertThat(health.code()).as(health.toString()).isEqualTo(5);
      assertThat(health.out()).contains("NOT_READY").contains("no pool has a ready worker");
      TestNode.until("the pool reported degraded", Duration.ofSeconds(30),
          () -> n.get("/v1/pools").body().contains("\"degraded\":true"));
    }
  }

  @Test
  void healthKeysAreValidatedAndNamed() {
    JsonObject pools = new JsonObject();
    assertThatThrownBy(() -> NodeConfig.fromJson(new JsonObject().put("health",
        new JsonObject().put("sessions", new JsonObject().put("max-p99", 5))), "n"))
        .isInstanceOf(ConfigException.class).hasMessageContaining("health.sessions.max-p99")
        .hasMessageContaining("max-p99-ms");
    assertThatThrownBy(() -> NodeConfig.fromJson(new JsonObject().put("health",
        new JsonObject().put("sessions", new JsonObject().put("max-error-rate", 2))), "n"))
        .hasMessageContaining("health.sessions.max-error-rate").hasMessageContaining("between 0");
    assertThatThrownBy(() -> NodeConfig.fromJson(new JsonObject().put("health",
        new JsonObject().put("sessions", new JsonObject().put("max-p99-ms", "fast"))), "n"))
        .hasMessageContaining("health.sessions.max-p99-ms").hasMessageContaining("number");
    assertThatThrownBy(() -> NodeConfig.fromJson(new JsonObject().put("health",
        new JsonObject().put("timeout-ms", 0)), "n"))
        .hasMessageContaining("health.timeout-ms");
    NodeConfig ok = NodeConfig.fromJson(new JsonObject().put("pools", pools).put("health",
        new JsonObject().put("sessions", new JsonObject().put("max-error-rate", "0.5"))), "n");
    assertThat(ok.health().getJsonObject("sessions").getValue("max-error-rate")).isEqualTo("0.5");
  }
}
