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

/** Affinity set per pool ({@code pools.NAME.affinity}), on a real node with real Python workers. */
class PoolAffinityHttpTest {

  static TestNode n;

  @BeforeAll
  static void start() throws Exception {
    n = TestNode.start("affinity-test", new JsonObject().put("pools", new JsonObject()
        .put("default", new JsonObject().put("size", 2).put("affinity", "strict-fail-fast"))));
  }

  @AfterAll
  static void stop() throws Exception {
    if (n != null) {
      n.close();
    }
  }

  static JsonObject json(HttpResponse<String> r) {
    return new JsonObject(r.body());
  }

  @Test
  void aPoolOfStrictFailFastAnswersWorkerBusyWithoutPerCallAffinity() throws Exception {
    assertThat(n.send("POST", "/v1/sessions", "{\"id\":\"aff-pool\"}").statusCode()).isEqualTo(201);
    String worker = json(n.send("POST", "/v1/sessions/aff-pool/execute", "{\"tool\":\"echo\"}")).getString("worker");

    // Keep the session's worker busy with a call of the session that runs until we disconnect.
    String forever = "{\"tool\":\"count\",\"args\":{\"n\":100000000,\"delay_ms\":1}}";
    try (RawStream busy = RawStream.post(n.node.httpPort(), "/v1/sessions/aff-pool/execute/stream", forever)) {
      assertThat(busy.readUntil("{\"item\"")).contains("\"worker\":\"" + worker + "\"");

      // No affinity in the call: the pool's strict-fail-fast applies, although the other worker is idle.
      HttpResponse<String> r = n.http.send(n.request("POST", "/v1/sessions/aff-pool/execute", "{\"tool\":\"echo\"}")
          .header("X-Correlation-Id", "aff-busy").build(), HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).as(r.body()).isEqualTo(409);
      JsonObject error = json(r).getJsonObject("error");
      assertThat(error.getString("code")).isEqualTo("worker_busy");
      assertThat(error.getString("worker")).isEqualTo(worker);
      assertThat(error.getString("correlation_id")).isEqualTo("aff-busy");

      // The other worker is free: a call without a session runs there...
      JsonObject free = json(n.send("POST", "/v1/execute", "{\"tool\":\"echo\"}"));
      assertThat(free.getString("worker")).isNotEqualTo(worker);
      // ...and a call's own affinity overrides the pool's.
      HttpResponse<String> hinted = n.send("POST", "/v1/sessions/aff-pool/execute",
          "{\"tool\":\"echo\",\"affinity\":\"hint\"}");
      assertThat(hinted.statusCode()).isEqualTo(200);
      assertThat(json(hinted).getString("worker")).isNotEqualTo(worker);
    }
    TestNode.until("the stream's call is cancelled", Duration.ofSeconds(30), () -> inflight() == 0);
  }

  private static int inflight() throws Exception {
    JsonArray workers = json(n.get("/v1/workers")).getJsonArray("workers");
    int sum = 0;
    for (int i = 0; i < workers.size(); i++) {
      sum += workers.getJsonObject(i).getInteger("inflight", 0);
    }
    return sum;
  }
}
