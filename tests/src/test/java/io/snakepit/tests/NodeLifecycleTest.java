package io.snakepit.tests;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.tests.harness.Http;
import io.snakepit.tests.harness.NodeProcess;
import io.snakepit.tests.harness.Poll;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A node as a separate JVM: serving over HTTP, dying by SIGKILL and SIGTERM, leaving no Python behind. */
class NodeLifecycleTest {

  static final Duration DEADLINE = Duration.ofSeconds(60);
  Path dataDir;

  @BeforeEach
  void setUp() throws Exception {
    dataDir = Files.createTempDirectory("snakepit-sys-");
  }

  @AfterEach
  void tearDown() throws Exception {
    try (var walk = Files.walk(dataDir)) {
      walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  static List<Long> workerPids(NodeProcess node) throws Exception {
    return Http.getJson(node.baseUrl() + "/v1/workers").getJsonArray("workers").stream()
        .map(w -> ((JsonObject) w).getLong("pid")).toList();
  }

  @Test
  void servesExecuteAndLeavesNoPythonProcessWhenKilled() throws Exception {
    List<Long> pids;
    try (NodeProcess node = NodeProcess.start(dataDir, DEADLINE, "--pool-size", "3")) {
      HttpResponse<String> r = Http.post(node.baseUrl() + "/v1/execute", "{\"tool\":\"echo\",\"args\":{\"x\":1}}");
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(new JsonObject(r.body()).getJsonObject("result")).isEqualTo(new JsonObject().put("x", 1));
      assertThat(new JsonObject(r.body()).getString("node")).isEqualTo(node.nodeId());
      pids = workerPids(node);
      assertThat(pids).hasSize(3).allMatch(Poll::alive);
      node.signal("KILL");
      node.process().waitFor();
    }
    for (long pid : pids) {
      Poll.until("worker " + pid + " exits after its node was SIGKILLed", DEADLINE, () -> !Poll.alive(pid));
    }
  }

  @Test
  void sigtermStopsGracefullyAndTakesTheWorkersAlong() throws Exception {
    try (NodeProcess node = NodeProcess.start(dataDir, DEADLINE, "--pool-size", "2")) {
      List<Long> pids = workerPids(node);
      node.signal("TERM");
      node.process().waitFor();
      assertThat(node.logText()).contains("Stopping node");
      // docker stop, Compose and Kubernetes read any other status as a failed stop (issue 14).
      assertThat(node.process().exitValue()).as("exit status after SIGTERM").isZero();
      for (long pid : pids) {
        assertThat(Poll.alive(pid)).as("worker %d after graceful stop", pid).isFalse();
      }
    }
  }

  @Test
  void adminDrainStopsTheNodeLikeSigtermAndTheProcessExitsCleanly() throws Exception {
    try (NodeProcess node = NodeProcess.start(dataDir, DEADLINE, "--pool-size", "2")) {
      List<Long> pids = workerPids(node);
      HttpResponse<String> r = Http.post(node.baseUrl() + "/v1/admin/drain", "");
      assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
      assertThat(new JsonObject(r.body()).getBoolean("stopping")).isTrue();
      assertThat(node.process().waitFor(DEADLINE.toSeconds(), java.util.concurrent.TimeUnit.SECONDS))
          .as("the node's process ends after the drain").isTrue();
      assertThat(node.process().exitValue()).isZero();
      assertThat(node.logText()).contains("Stop requested over the API").contains("Stopping node");
      for (long pid : pids) {
        assertThat(Poll.alive(pid)).as("worker %d after the drain", pid).isFalse();
      }
    }
  }

  @Test
  void aRestartedNodeEndsWorkersItsEarlierRunLeftBehind() throws Exception {
    long stuck;
    long stuckForkserver;
    try (NodeProcess node = NodeProcess.start(dataDir, DEADLINE, "--pool-size", "1")) {
      stuck = workerPids(node).get(0);
      stuckForkserver = Http.getJson(node.baseUrl() + "/v1/pools").getJsonArray("pools").getJsonObject(0)
          .getJsonObject("forkserver").getLong("pid");
      // Stopped processes cannot notice their node's death by themselves: the forkserver would otherwise end
      // its workers when the JVM dies, and a worker would end itself.
      new ProcessBuilder("kill", "-STOP", Long.toString(stuckForkserver), Long.toString(stuck)).start().waitFor();
      node.signal("KILL");
      node.process().waitFor();
    }
    try {
      assertThat(Poll.alive(stuck)).isTrue();
      assertThat(Poll.alive(stuckForkserver)).isTrue();
      try (NodeProcess again = NodeProcess.start(dataDir, DEADLINE, "--pool-size", "1")) {
        Poll.until("the leftover worker is ended", DEADLINE, () -> !Poll.alive(stuck));
        Poll.until("the leftover forkserver is ended", DEADLINE, () -> !Poll.alive(stuckForkserver));
        assertThat(again.logText()).contains("left behind by an earlier run");
      }
    } finally {
      ProcessHandle.of(stuck).ifPresent(ProcessHandle::destroyForcibly);
      ProcessHandle.of(stuckForkserver).ifPresent(ProcessHandle::destroyForcibly);
    }
  }

  @Test
  void badConfigurationStopsTheNodeWithAMessageNamingTheKey() throws Exception {
    Path cfg = dataDir.resolve("bad.yaml");
    Files.writeString(cfg, "http-port: 8080\npools:\n  default:\n    sise: 3\n");
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
        System.getProperty("java.class.path"), "io.snakepit.app.Main", "run", "--config", cfg.toString(),
        "--data-dir", dataDir.toString()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor()).isEqualTo(2);
    assertThat(out).contains("pools.default.sise");
  }

  @Test
  void aNodeBeyondLoopbackWithoutAuthenticationRefusesToStartUnlessToldItIsMeant() throws Exception {
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
        System.getProperty("java.class.path"), "io.snakepit.app.Main", "run", "--host", "0.0.0.0", "--http-port", "0",
        "--grpc-port", "0", "--data-dir", dataDir.toString()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor()).isEqualTo(2);
    assertThat(out).contains("host 0.0.0.0 is not a loopback address").contains("security.api-keys-file")
        .contains("security.insecure: true");
    // Nothing started: no port was bound, no worker spawned, nothing written but the node id.
    assertThat(out).doesNotContain("snakepit: ready");
  }

  /** POST /v1/execute with the caller's own correlation id. */
  static HttpResponse<String> executeWithId(NodeProcess node, String correlationId, String body) throws Exception {
    return java.net.http.HttpClient.newBuilder().version(java.net.http.HttpClient.Version.HTTP_1_1).build()
        .send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(node.baseUrl() + "/v1/execute"))
            .header("X-Correlation-Id", correlationId)
            .POST(java.net.http.HttpRequest.BodyPublishers.ofString(body)).build(),
            HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void aStartAndItsCallsLogNoRepeatedGaugeWarningAndTheGaugesAreExported() throws Exception {
    try (NodeProcess node = NodeProcess.start(dataDir, DEADLINE, "--pool-size", "1")) {
      for (int i = 0; i < 3; i++) {
        assertThat(executeWithId(node, "gauges-" + i, "{\"tool\":\"noop\"}").statusCode()).isEqualTo(200);
      }
      String metrics = Http.get(node.baseUrl() + "/metrics").body();
      // Vert.x registers these again for each consumer and request; they stay, and Micrometer's warning goes.
      assertThat(metrics).contains("vertx_eventbus_handlers").contains("vertx_http_server_active_requests");
      assertThat(node.logText()).doesNotContain("already registered");
    }
  }

  @Test
  void oneCorrelationIdFindsEveryLineOfACallInJsonLogs() throws Exception {
    try (NodeProcess node = NodeProcess.start(dataDir, DEADLINE, "--pool-size", "1", "--log-format", "json")) {
      HttpResponse<String> r = executeWithId(node, "find-me-4711",
          "{\"tool\":\"log\",\"args\":{\"message\":\"hello from python\"}}");
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.headers().firstValue("X-Correlation-Id")).contains("find-me-4711");
      // The worker's record comes back through the node's log, as one JSON object carrying the id.
      Poll.until("the Python log line appears with its correlation id", DEADLINE, () -> node.logText().lines()
          .filter(l -> l.startsWith("{")).map(JsonObject::new)
          .anyMatch(j -> j.encode().contains("find-me-4711") && j.encode().contains("hello from python")));
      // A failed call: the node's own line about it carries the caller's id too.
      HttpResponse<String> failed = executeWithId(node, "find-me-4712",
          "{\"tool\":\"fail\",\"args\":{\"message\":\"boom\"}}");
      assertThat(failed.statusCode()).isEqualTo(500);
      Poll.until("the node's line about the failed call appears with its correlation id", DEADLINE,
          () -> node.logText().lines().filter(l -> l.startsWith("{")).map(JsonObject::new)
              .anyMatch(j -> j.encode().contains("find-me-4712") && j.encode().contains("tool_failed")));
    }
  }
}
