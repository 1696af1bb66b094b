package io.snakepit.tests;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.tests.harness.Http;
import io.snakepit.tests.harness.NodeProcess;
import io.snakepit.tests.harness.Poll;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A session's Python-side state (what the demo adapter's {@code remember}
 * keeps in its worker) across a restart of its node, in a separate JVM on the
 * same data dir: a graceful stop hands it off into the session store and the
 * restarted node's worker imports it; after SIGKILL it comes back as of the
 * last checkpoint, and without checkpoints it is gone (docs/architecture.md,
 * "Session-state handoff").
 */
class HandoffRestartTest {

  static final Duration DEADLINE = Duration.ofSeconds(60);
  Path dataDir;

  @BeforeEach
  void setUp() throws Exception {
    dataDir = Files.createTempDirectory("snakepit-handoff-");
  }

  @AfterEach
  void tearDown() throws Exception {
    try (var walk = Files.walk(dataDir)) {
      walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  @Test
  void aGracefulRestartKeepsTheStateAWorkerHeld() throws Exception {
    String before;
    try (NodeProcess node = NodeProcess.start(dataDir, DEADLINE, "--pool-size", "1")) {
      remember(node, 9);
      before = Http.getJson(node.baseUrl() + "/v1/sessions/s").getString("last_worker");
      node.signal("TERM");
      node.process().waitFor();
    }
    try (NodeProcess again = NodeProcess.start(dataDir, DEADLINE, "--pool-size", "1")) {
      JsonObject session = Http.getJson(again.baseUrl() + "/v1/sessions/s");
      assertThat(session.getBoolean("handoff_pending")).isTrue();
      JsonObject recalled = recall(again);
      assertThat(recalled.getValue("value")).isEqualTo(9);
      // The restarted node's worker is a new one, whatever its slot: ids carry the node's incarnation.
      assertThat(recalled.getString("worker_id")).isNotEqualTo(before);
      assertThat(Http.getJson(again.baseUrl() + "/v1/sessions/s").containsKey("handoff_pending")).isFalse();
    }
  }

  @Test
  void afterSigkillTheStateComesBackAsOfTheLastCheckpoint() throws Exception {
    Path cfg = dataDir.resolve("checkpoints.yaml");
    Files.writeString(cfg, "checkpoint-interval-s: 1\n");
    try (NodeProcess node = NodeProcess.start(dataDir, DEADLINE, "--pool-size", "1", "--config", cfg.toString())) {
      remember(node, 7);
      Poll.until("a checkpoint of session s is stored", DEADLINE, () -> Http.getJson(node.baseUrl()
          + "/v1/sessions/s").getBoolean("handoff_checkpoint", false));
      node.signal("KILL");
      node.process().waitFor();
    }
    try (NodeProcess again = NodeProcess.start(dataDir, DEADLINE, "--pool-size", "1", "--config", cfg.toString())) {
      assertThat(recall(again).getValue("value")).isEqualTo(7);
    }
  }

  @Test
  void afterSigkillWithoutCheckpointsTheStateIsGone() throws Exception {
    try (NodeProcess node = NodeProcess.start(dataDir, DEADLINE, "--pool-size", "1")) {
      remember(node, 5);
      node.signal("KILL");
      node.process().waitFor();
    }
    try (NodeProcess again = NodeProcess.start(dataDir, DEADLINE, "--pool-size", "1")) {
      // The session itself is durable; only the worker's memory is lost.
      JsonObject recalled = recall(again);
      assertThat(recalled.containsKey("value")).isTrue();
      assertThat(recalled.getValue("value")).isNull();
    }
  }

  private static void remember(NodeProcess node, int value) throws Exception {
    assertThat(Http.post(node.baseUrl() + "/v1/sessions", "{\"id\":\"s\"}").statusCode()).isEqualTo(201);
    var r = Http.post(node.baseUrl() + "/v1/sessions/s/execute",
        "{\"tool\":\"remember\",\"args\":{\"value\":" + value + "}}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
  }

  private static JsonObject recall(NodeProcess node) throws Exception {
    var r = Http.post(node.baseUrl() + "/v1/sessions/s/execute", "{\"tool\":\"recall\"}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return new JsonObject(r.body()).getJsonObject("result");
  }
}
