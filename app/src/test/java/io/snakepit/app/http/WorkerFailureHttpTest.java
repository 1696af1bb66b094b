package io.snakepit.app.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.app.TestNode;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * How failures in the worker reach an HTTP client, on a real node with real Python workers:
 * each is a typed error with its HTTP status, and the correlation id in the body and in
 * {@code X-Correlation-Id}.
 */
class WorkerFailureHttpTest {

  static TestNode n;

  @BeforeAll
  static void start() throws Exception {
    n = TestNode.start("failure-test", new JsonObject().put("pools", new JsonObject()
        .put("default", new JsonObject().put("size", 1).put("backoff-min-ms", 50))
        // One worker and no queue: a call that finds the worker busy is refused at once.
        .put("tiny", new JsonObject().put("size", 1).put("queue-size", 0))));
  }

  @AfterAll
  static void stop() throws Exception {
    if (n != null) {
      n.close();
    }
  }

  /** Posts to /v1/execute with a correlation id of our own. */
  static HttpResponse<String> execute(String body, String cid) throws Exception {
    return n.http.send(n.request("POST", "/v1/execute", body).header("X-Correlation-Id", cid).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** Asserts the status, the code and the correlation id in both places; returns the error object. */
  static JsonObject typedError(HttpResponse<String> r, int status, String code, String cid) {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
    assertThat(r.headers().firstValue("X-Correlation-Id")).hasValue(cid);
    JsonObject error = new JsonObject(r.body()).getJsonObject("error");
    assertThat(error.getString("code")).isEqualTo(code);
    assertThat(error.getString("correlation_id")).isEqualTo(cid);
    assertThat(error.getString("message")).isNotBlank();
    assertThat(error.getString("hint")).isNotBlank();
    return error;
  }

  @Test
  void aCallPastItsTimeoutIs504() throws Exception {
    HttpResponse<String> r = execute("{\"tool\":\"sleep\",\"args\":{\"ms\":600000},\"timeout_ms\":300}",
        "fail-timeout");
    JsonObject error = typedError(r, 504, "timeout", "fail-timeout");
    assertThat(error.getString("worker")).startsWith("default-");
  }

  @Test
  void aWorkerThatDiesDuringTheCallIs502WithItsStderrAndExitCode() throws Exception {
    HttpResponse<String> r = execute("{\"tool\":\"crash\",\"args\":{\"code\":3,\"message\":\"dying words\"}}",
        "fail-crash");
    JsonObject error = typedError(r, 502, "worker_crashed", "fail-crash");
    assertThat(error.getInteger("exit_code")).isEqualTo(3);
    assertThat(error.getString("stderr")).contains("dying words");
    assertThat(error.getString("worker")).startsWith("default-");
    // The pool replaces the worker; the next call is served.
    TestNode.until("the pool serves again", Duration.ofSeconds(30), () -> n.send("POST", "/v1/execute",
        "{\"tool\":\"add\",\"args\":{\"a\":1,\"b\":1}}").statusCode() == 200);
  }

  @Test
  void aCallThatFindsTheQueueFullIs503() throws Exception {
    String body = "{\"tool\":\"count\",\"pool\":\"tiny\",\"args\":{\"n\":100000000,\"delay_ms\":1}}";
    try (RawStream busy = RawStream.post(n.node.httpPort(), "/v1/execute/stream", body)) {
      busy.readUntil("{\"item\"");
      JsonObject error = typedError(execute("{\"tool\":\"echo\",\"pool\":\"tiny\"}", "fail-overload"), 503,
          "overloaded", "fail-overload");
      assertThat(error.getString("pool")).isEqualTo("tiny");
      assertThat(error.getInteger("queue_size")).isZero();
    }
    // Closing the stream cancelled the call that held the worker: the pool serves again.
    TestNode.until("the tiny pool's worker is free", Duration.ofSeconds(30), () -> tinyInflight() == 0);
    assertThat(n.send("POST", "/v1/execute", "{\"tool\":\"echo\",\"pool\":\"tiny\"}").statusCode()).isEqualTo(200);
  }

  private static int tinyInflight() throws Exception {
    JsonArray workers = new JsonObject(n.get("/v1/workers").body()).getJsonArray("workers");
    int sum = 0;
    for (int i = 0; i < workers.size(); i++) {
      if ("tiny".equals(workers.getJsonObject(i).getString("pool"))) {
        sum += workers.getJsonObject(i).getInteger("inflight", 0);
      }
    }
    return sum;
  }
}
