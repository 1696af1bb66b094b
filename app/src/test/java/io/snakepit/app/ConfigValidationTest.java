package io.snakepit.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.snakepit.config.ConfigException;
import io.snakepit.routing.RoutingVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@link NodeConfig#fromJson} refuses mistakes under {@code sessions.*},
 * {@code routing.*} and {@code health.*} itself, before any verticle deploys
 * (and so before a node joins its cluster), with a {@link ConfigException}
 * naming the full key.
 */
class ConfigValidationTest {

  /** A configuration with {@code value} at the dotted {@code path}, everything else default. */
  private static JsonObject with(String path, Object value) {
    JsonObject root = new JsonObject();
    JsonObject o = root;
    String[] parts = path.split("\\.");
    for (int i = 0; i < parts.length - 1; i++) {
      JsonObject next = new JsonObject();
      o.put(parts[i], next);
      o = next;
    }
    o.put(parts[parts.length - 1], value);
    return root;
  }

  private static void refused(JsonObject config, String key, String why) {
    assertThatThrownBy(() -> NodeConfig.fromJson(config, "n1")).as(config.encode())
        .isInstanceOf(ConfigException.class).hasMessageContaining(key).hasMessageContaining(why);
  }

  @Test
  void unknownKeysAndWrongValuesUnderSessionsNameTheFullKey() {
    refused(with("sessions.memory.persistance", false), "sessions.memory.persistance", "unknown");
    refused(with("sessions.memory.durability", "fsync"), "sessions.memory.durability", "commit, sync, write-behind");
    refused(with("sessions.memory.write-behind-ms", "soon"), "sessions.memory.write-behind-ms", "whole number");
    refused(with("sessions.limits.max-sesions", 10), "sessions.limits.max-sesions", "unknown");
    refused(with("sessions.limits.max-sessions", 0), "sessions.limits.max-sessions", "between 1 and");
    refused(with("sessions.limits.default-ttl-s", 10 * 86_400), "sessions.limits.default-ttl-s", "max-ttl-s");
    refused(with("sessions.sweep-interval-ms", 5), "sessions.sweep-interval-ms", "between 10 and");
    refused(with("sessions.adaptor", "memory"), "sessions.adaptor", "unknown");
    refused(with("sessions.adapter", "memroy"), "sessions.adapter", "not a known session adapter");
  }

  @Test
  void theHazelcastSectionIsCheckedWhetherOrNotItIsTheChosenAdapter() {
    // Chosen explicitly, chosen by cluster: true, and present while memory is chosen (a shared file).
    refused(new JsonObject().put("sessions", new JsonObject().put("adapter", "hazelcast")
        .put("hazelcast", new JsonObject().put("backups", 2))), "sessions.hazelcast.backups", "unknown");
    refused(new JsonObject().put("sessions", new JsonObject().put("adapter", "hazelcast")
        .put("hazelcast", new JsonObject().put("backup-count", 7))), "sessions.hazelcast.backup-count",
        "between 0 and 6");
    refused(with("sessions.hazelcast.backup-count", 7).put("cluster", true), "sessions.hazelcast.backup-count",
        "between 0 and 6");
    refused(with("sessions.hazelcast.backups", 2), "sessions.hazelcast.backups", "unknown");
    refused(with("sessions.hazelcast.embedded.port", 0), "sessions.hazelcast.embedded.port", "between 1 and 65535");
    refused(with("sessions.hazelcast.embedded.member", "10.0.0.1"), "sessions.hazelcast.embedded.member", "unknown");
  }

  @Test
  void unknownKeysAndWrongValuesUnderRoutingAndHealthNameTheFullKey() {
    refused(with("routing.heartbeat", 100), "routing.heartbeat", "unknown");
    refused(with("routing.node-id", "elsewhere"), "routing.node-id", "unknown");
    refused(with("routing.max-hops", 17), "routing.max-hops", "between 1 and 16");
    refused(with("routing.heartbeat-ms", "fast"), "routing.heartbeat-ms", "whole number");
    refused(new JsonObject().put("routing", new JsonObject().put("heartbeat-ms", 500).put("failure-timeout-ms", 400)),
        "routing.failure-timeout-ms", "must exceed heartbeat-ms");
    refused(with("health.timeout-ms", 5), "health.timeout-ms", "between 10 and");
    refused(with("health.sessions.max-error-rate", 2), "health.sessions.max-error-rate", "between 0");
  }

  @Test
  void unknownKeysAndWrongValuesUnderHttpNameTheFullKey() {
    refused(with("http.max-conections", 10), "http.max-conections", "unknown");
    refused(with("http.max-connections", 0), "http.max-connections", "between 1 and");
    refused(with("http.header-timeout-ms", "soon"), "http.header-timeout-ms", "whole number");
    refused(with("http.idle-timeout-s", 0), "http.idle-timeout-s", "between 1 and");
    refused(with("http.max-request-line-bytes", 10), "http.max-request-line-bytes", "between 256 and");
    refused(with("http.max-header-bytes", 1 << 30), "http.max-header-bytes", "between 1024 and");
    assertThat(NodeConfig.fromJson(with("http.max-connections", 5), "n1").http().getInteger("max-connections"))
        .isEqualTo(5);
  }

  @Test
  void validSectionsPassAndReachTheVerticlesUnchanged() {
    JsonObject json = new JsonObject()
        .put("sessions", new JsonObject().put("sweep-interval-ms", 500)
            .put("memory", new JsonObject().put("durability", "sync"))
            .put("hazelcast", new JsonObject().put("backup-count", 2))
            .put("limits", new JsonObject().put("max-sessions", 10)))
        .put("routing", new JsonObject().put("heartbeat-ms", 200).put("failure-timeout-ms", 2_000).put("max-hops", 5));
    NodeConfig cfg = NodeConfig.fromJson(json, "n1");
    assertThat(cfg.sessions().getJsonObject("sessions")).isEqualTo(json.getJsonObject("sessions"));
    assertThat(cfg.routing()).isEqualTo(json.getJsonObject("routing").copy().put("node-id", "n1"));
  }

  /**
   * The routing bounds are written twice, in NodeConfig and in RoutingVerticle
   * (which reads its own configuration): both must accept and refuse the same
   * sections, checked against a deployed RoutingVerticle.
   */
  @Test
  void routingValidationAgreesWithTheRoutingVerticle() throws Exception {
    List<JsonObject> cases = List.of(
        new JsonObject(),
        new JsonObject().put("heartbeat-ms", 10).put("failure-timeout-ms", 50),
        new JsonObject().put("heartbeat-ms", 9),
        new JsonObject().put("heartbeat-ms", 60_000).put("failure-timeout-ms", 600_000),
        new JsonObject().put("heartbeat-ms", 60_001).put("failure-timeout-ms", 600_000),
        new JsonObject().put("failure-timeout-ms", 49),
        new JsonObject().put("failure-timeout-ms", 600_001),
        new JsonObject().put("heartbeat-ms", 500).put("failure-timeout-ms", 500),
        new JsonObject().put("heartbeat-ms", 500).put("failure-timeout-ms", 501),
        new JsonObject().put("forward-retry-ms", 0),
        new JsonObject().put("forward-retry-ms", -1),
        new JsonObject().put("forward-retry-ms", 600_000),
        new JsonObject().put("forward-retry-ms", 600_001),
        new JsonObject().put("max-hops", 1),
        new JsonObject().put("max-hops", 0),
        new JsonObject().put("max-hops", 16),
        new JsonObject().put("max-hops", 17),
        new JsonObject().put("max-hops", "three"),
        new JsonObject().put("hops", 3));
    Vertx vertx = Vertx.vertx();
    try {
      for (JsonObject routing : cases) {
        boolean nodeAccepts = accepts(() -> NodeConfig.fromJson(new JsonObject().put("routing", routing), "n1"));
        boolean verticleAccepts;
        try {
          String id = vertx.deployVerticle(new RoutingVerticle(), new DeploymentOptions()
              .setConfig(routing.copy().put("node-id", "n1"))).toCompletionStage().toCompletableFuture()
              .get(30, TimeUnit.SECONDS);
          vertx.undeploy(id).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
          verticleAccepts = true;
        } catch (ExecutionException e) {
          assertThat(e.getCause()).as(routing.encode()).isInstanceOf(ConfigException.class);
          verticleAccepts = false;
        }
        assertThat(nodeAccepts).as("NodeConfig and RoutingVerticle agree on %s", routing.encode())
            .isEqualTo(verticleAccepts);
      }
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  private static boolean accepts(Runnable r) {
    try {
      r.run();
      return true;
    } catch (ConfigException e) {
      return false;
    }
  }

  @Test
  void theDefaultsPass() {
    assertThatCode(() -> NodeConfig.fromJson(new JsonObject(), "n1")).doesNotThrowAnyException();
  }

  @Test
  void tracingIsSetByEnvironmentVariablesLikeEveryOtherSection() {
    JsonObject json = new JsonObject();
    EnvironmentOverrides.applyEnvironment(json, java.util.Map.of(
        "SNAKEPIT_TRACING__ENDPOINT", "http://collector:4318",
        "SNAKEPIT_TRACING__SAMPLING_RATE", "0.1",
        "SNAKEPIT_TRACING__SERVICE_NAME", "edge"));
    var tracing = NodeConfig.fromJson(json, "n1").tracing();
    assertThat(tracing.enabled()).isTrue();
    assertThat(tracing.tracesUrl()).isEqualTo("http://collector:4318/v1/traces");
    assertThat(tracing.samplingRate()).isEqualTo(0.1);
    assertThat(tracing.serviceName()).isEqualTo("edge");
    JsonObject bad = new JsonObject();
    EnvironmentOverrides.applyEnvironment(bad, java.util.Map.of("SNAKEPIT_TRACING__SAMPLING_RATE", "2"));
    refused(bad, "tracing.sampling-rate", "between 0.0 and 1.0");
  }
}
