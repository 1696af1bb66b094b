package io.snakepit.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** /metrics of a real node: Vert.x's own metrics and snakepit_*, checked by promtool. */
class MetricsTest {

  static TestNode n;

  @BeforeAll
  static void start() throws Exception {
    n = TestNode.start("metrics-test", new JsonObject().put("pools", new JsonObject()
        .put("default", new JsonObject().put("size", 2))
        // Every worker of this pool is recycled after one request.
        .put("recycled", new JsonObject().put("size", 1).put("max-requests", 1).put("queue-timeout-ms", 60_000))));
  }

  @AfterAll
  static void stop() throws Exception {
    n.close();
  }

  static String scrape() throws Exception {
    HttpResponse<String> r = n.get("/metrics");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("text/plain");
    return r.body();
  }

  private static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{(.*)})? (\\S+)$");
  private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"");

  /** The sum of the samples of a metric whose labels include the given ones; null when there is none. */
  static Double value(String text, String name, String... labels) {
    Double sum = null;
    for (String line : text.split("\n")) {
      Matcher m = SAMPLE.matcher(line);
      if (!m.matches() || !m.group(1).equals(name)) {
        continue;
      }
      Map<String, String> have = new LinkedHashMap<>();
      Matcher l = LABEL.matcher(m.group(2) == null ? "" : m.group(2));
      while (l.find()) {
        have.put(l.group(1), l.group(2));
      }
      boolean all = true;
      for (int i = 0; i < labels.length; i += 2) {
        all &= labels[i + 1].equals(have.get(labels[i]));
      }
      if (all) {
        sum = (sum == null ? 0 : sum) + Double.parseDouble(m.group(3));
      }
    }
    return sum;
  }

  @Test
  void callsAreCountedByPoolToolAndOutcomeAndUnknownToolsMakeNoTags() throws Exception {
    assertThat(n.send("POST", "/v1/execute", "{\"tool\":\"echo\",\"args\":{\"x\":1}}").statusCode()).isEqualTo(200);
    assertThat(n.send("POST", "/v1/execute", "{\"tool\":\"fail\",\"args\":{\"message\":\"m\"}}").statusCode())
        .isEqualTo(500);
    String bogus = "no_such_tool_" + UUID.randomUUID().toString().replace("-", "");
    assertThat(n.send("POST", "/v1/execute", "{\"tool\":\"" + bogus + "\"}").statusCode()).isEqualTo(404);

    String text = scrape();
    assertThat(value(text, "snakepit_call_duration_seconds_count", "pool", "default", "tool", "echo",
        "outcome", "ok")).isGreaterThanOrEqualTo(1);
    assertThat(value(text, "snakepit_call_duration_seconds_count", "pool", "default", "tool", "fail",
        "outcome", "tool_failed")).isGreaterThanOrEqualTo(1);
    assertThat(value(text, "snakepit_call_duration_seconds_bucket", "tool", "echo", "outcome", "ok", "le", "+Inf"))
        .isGreaterThanOrEqualTo(1);
    assertThat(text).doesNotContain(bogus);
    assertThat(value(text, "snakepit_pool_queue_depth", "pool", "default")).isZero();
    assertThat(value(text, "snakepit_pool_degraded", "pool", "default")).isZero();
    // Vert.x's own metrics are there too.
    assertThat(value(text, "vertx_http_server_requests_total")).isGreaterThanOrEqualTo(3);
    assertThat(value(text, "vertx_eventbus_sent_total")).isNotNull();
  }

  @Test
  void workersByStateAndRestartsFollowAKilledWorker() throws Exception {
    TestNode.until("both workers ready in the gauge", Duration.ofSeconds(30),
        () -> Double.valueOf(2).equals(value(scrape(), "snakepit_workers", "pool", "default", "state", "ready")));
    double restartsBefore = value(scrape(), "snakepit_worker_restarts_total", "pool", "default");
    double crashesBefore = value(scrape(), "snakepit_worker_crashes_total", "pool", "default");
    JsonArray workers = new JsonObject(n.get("/v1/workers").body()).getJsonArray("workers");
    long pid = workers.stream().map(JsonObject.class::cast).filter(w -> "default".equals(w.getString("pool")))
        .findFirst().orElseThrow().getLong("pid");
    ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    TestNode.until("the crash and the restart counted, and two workers ready again", Duration.ofSeconds(30), () -> {
      String t = scrape();
      return value(t, "snakepit_worker_crashes_total", "pool", "default") >= crashesBefore + 1
          && value(t, "snakepit_worker_restarts_total", "pool", "default") >= restartsBefore + 1
          && Double.valueOf(2).equals(value(t, "snakepit_workers", "pool", "default", "state", "ready"));
    });
    // A crash is not a recycle.
    assertThat(value(scrape(), "snakepit_worker_recycles_total", "pool", "default")).isZero();
  }

  @Test
  void aWorkerRecycledAfterMaxRequestsIsCounted() throws Exception {
    double before = value(scrape(), "snakepit_worker_recycles_total", "pool", "recycled");
    for (int i = 1; i <= 2; i++) {
      assertThat(n.send("POST", "/v1/execute", "{\"tool\":\"echo\",\"pool\":\"recycled\"}").statusCode())
          .isEqualTo(200);
      double expected = before + i;
      TestNode.until("recycle number " + i + " counted", Duration.ofSeconds(30),
          () -> value(scrape(), "snakepit_worker_recycles_total", "pool", "recycled") >= expected);
    }
    String text = scrape();
    assertThat(value(text, "snakepit_worker_recycles_total", "pool", "recycled")).isEqualTo(before + 2);
    // Recycling is planned: it is not counted as a crash.
    assertThat(value(text, "snakepit_worker_crashes_total", "pool", "recycled")).isZero();
    JsonObject pool = new JsonObject(n.get("/v1/pools").body()).getJsonArray("pools").stream()
        .map(JsonObject.class::cast).filter(p -> "recycled".equals(p.getString("name"))).findFirst().orElseThrow();
    assertThat(pool.getLong("recycles")).isEqualTo((long) (before + 2));
  }

  @Test
  void sessionOperationsAndActiveSessionsAreMeasuredWithoutSessionIds() throws Exception {
    String id = "metrics-" + UUID.randomUUID();
    assertThat(n.send("POST", "/v1/sessions", "{\"id\":\"" + id + "\"}").statusCode()).isEqualTo(201);
    assertThat(n.send("PUT", "/v1/sessions/" + id + "/variables/v", "{\"value\":1}").statusCode()).isEqualTo(200);
    assertThat(n.get("/v1/sessions/does-not-exist").statusCode()).isEqualTo(404);
    TestNode.until("the active-sessions gauge counts the session", Duration.ofSeconds(30),
        () -> value(scrape(), "snakepit_sessions_active", "adapter", "memory") >= 1);
    String text = scrape();
    assertThat(value(text, "snakepit_session_operation_duration_seconds_count", "operation", "create",
        "adapter", "memory", "outcome", "ok")).isGreaterThanOrEqualTo(1);
    assertThat(value(text, "snakepit_session_operation_duration_seconds_count", "operation", "var.put",
        "outcome", "ok")).isGreaterThanOrEqualTo(1);
    assertThat(value(text, "snakepit_session_operation_duration_seconds_count", "operation", "get",
        "outcome", "session_not_found")).isGreaterThanOrEqualTo(1);
    assertThat(text).doesNotContain(id);
  }

  @Test
  void theExpositionPassesPromtool() throws Exception {
    Path promtool = PromTool.find();
    n.send("POST", "/v1/execute", "{\"tool\":\"echo\",\"args\":{}}");
    n.send("POST", "/v1/sessions", "{}");
    String text = scrape();
    // The whole page must parse; lint findings are allowed only outside our own metrics
    // (Micrometer's JVM binders use names such as jvm_compilation_time_ms_total).
    PromTool.Result all = PromTool.check(promtool, text);
    assertThat(all.exitCode()).as("promtool on the whole page:\n%s", all.output()).isIn(0, 3);
    assertThat(all.output()).doesNotContain("snakepit_").doesNotContain("error while linting");
    String ours = text.lines().filter(l -> l.startsWith("snakepit_") || l.startsWith("# HELP snakepit_")
        || l.startsWith("# TYPE snakepit_")).collect(Collectors.joining("\n", "", "\n"));
    assertThat(ours).contains("snakepit_call_duration_seconds_bucket", "snakepit_workers",
        "snakepit_session_operation_duration_seconds_bucket", "snakepit_sessions_active");
    PromTool.Result own = PromTool.check(promtool, ours);
    assertThat(own.exitCode()).as("promtool on snakepit_*:\n%s", own.output()).isZero();
  }
}
