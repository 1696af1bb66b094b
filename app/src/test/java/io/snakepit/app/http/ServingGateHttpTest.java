package io.snakepit.app.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.app.ServingState;
import io.snakepit.contract.ErrorCode;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The HTTP API of a node that does not serve yet, or any more. The verticle runs
 * alone on a Vert.x of its own, with a {@link ServingState} the test moves by
 * hand: the starting window stays open as long as the test needs, and nothing
 * behind the API is deployed, so a call that passed the gate finds no consumer.
 */
class ServingGateHttpTest {

  Vertx vertx;
  ServingState state;
  HttpApiVerticle api;
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(10)).build();

  @BeforeEach
  void start() throws Exception {
    vertx = Vertx.vertx();
    state = ServingState.starting("gate-node");
    api = new HttpApiVerticle("gate-node", "127.0.0.1", 0, 1 << 20, state);
    vertx.deployVerticle(api, new DeploymentOptions().setConfig(new JsonObject()
        .put("health", new JsonObject().put("timeout-ms", 200))))
        .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  @AfterEach
  void stop() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  HttpResponse<String> send(String method, String path, String body, String cid) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + api.actualPort() + path))
        .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    if (cid != null) {
      b.header("X-Correlation-Id", cid);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  static JsonObject error(HttpResponse<String> r) {
    return new JsonObject(r.body()).getJsonObject("error");
  }

  @Test
  void beforeServingEveryCallIsRefusedWith503StartingRetryAfterAndTheCorrelationId() throws Exception {
    HttpResponse<String> r = send("POST", "/v1/execute", "{\"tool\":\"noop\"}", "gate-cid-1");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(503);
    assertThat(r.headers().firstValue("Retry-After")).contains("1");
    assertThat(r.headers().firstValue("X-Correlation-Id")).contains("gate-cid-1");
    JsonObject err = error(r);
    assertThat(err.getString("code")).isEqualTo("starting");
    assertThat(err.getString("correlation_id")).isEqualTo("gate-cid-1");
    assertThat(err.getString("message")).contains("gate-node is starting").contains("retry after 1 s")
        .contains("another node");
    assertThat(err.getString("hint")).isEqualTo(ErrorCode.STARTING.hint());
    assertThat(err.getString("node")).isEqualTo("gate-node");
    assertThat(err.getInteger("retry_after_s")).isEqualTo(1);

    // Every other API route too, whatever its method or body; a generated correlation id when none was sent.
    for (String[] call : new String[][] {{"POST", "/v1/execute/stream", "{\"tool\":\"count\"}"},
        {"GET", "/v1/workers", null}, {"GET", "/v1/pools", null}, {"GET", "/v1/cluster", null},
        {"POST", "/v1/sessions", "{}"}, {"GET", "/v1/sessions/s1", null}, {"GET", "/v1/sessions/export", null},
        {"POST", "/v1/sessions/import", "{\"id\":\"s1\"}\n"}, {"POST", "/v1/sessions/s1/execute", "{\"tool\":\"noop\"}"},
        {"POST", "/v1/admin/drain", ""}, {"GET", "/no/such/route", null}}) {
      HttpResponse<String> c = send(call[0], call[1], call[2], null);
      assertThat(c.statusCode()).as(call[0] + " " + call[1] + ": " + c.body()).isEqualTo(503);
      assertThat(c.headers().firstValue("Retry-After")).as(call[1]).contains("1");
      assertThat(error(c).getString("code")).as(call[1]).isEqualTo("starting");
      assertThat(error(c).getString("correlation_id")).as(call[1])
          .isEqualTo(c.headers().firstValue("X-Correlation-Id").orElseThrow()).isNotBlank();
    }
  }

  @Test
  void theProbesAndTheContractAnswerWhileStartingAndReadinessSaysNotReady() throws Exception {
    assertThat(send("GET", "/health", null, null).statusCode()).isEqualTo(200);
    assertThat(send("GET", "/openapi.json", null, null).statusCode()).isEqualTo(200);
    HttpResponse<String> ready = send("GET", "/ready", null, null);
    assertThat(ready.statusCode()).isEqualTo(503);
    JsonObject body = new JsonObject(ready.body());
    assertThat(body.getString("status")).isEqualTo("NOT_READY");
    JsonObject serving = body.getJsonObject("checks").getJsonObject("serving");
    assertThat(serving.getBoolean("ok")).isFalse();
    assertThat(serving.getString("phase")).isEqualTo("starting");
    assertThat(body.getJsonArray("reasons").getList()).anySatisfy(reason ->
        assertThat((String) reason).startsWith("serving: the node is starting"));
    // /health/sessions is a probe too: it answers (DOWN, as no store runs here), never the gate's 503 starting.
    HttpResponse<String> sessions = send("GET", "/health/sessions", null, null);
    assertThat(new JsonObject(sessions.body()).getString("status")).isEqualTo("DOWN");
  }

  @Test
  void onceServingTheReadinessCheckPassesAndACallThatFindsNoConsumerIsStartingNot500() throws Exception {
    state.serving();
    HttpResponse<String> ready = send("GET", "/ready", null, null);
    JsonObject serving = new JsonObject(ready.body()).getJsonObject("checks").getJsonObject("serving");
    assertThat(serving.getBoolean("ok")).isTrue();
    assertThat(serving.getString("phase")).isEqualTo("serving");

    // Nothing consumes snakepit.execute here: the event bus's NO_HANDLERS is a retryable starting, not internal.
    HttpResponse<String> r = send("POST", "/v1/execute", "{\"tool\":\"noop\"}", "gate-cid-2");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(503);
    assertThat(r.headers().firstValue("Retry-After")).contains("1");
    JsonObject err = error(r);
    assertThat(err.getString("code")).isEqualTo("starting");
    assertThat(err.getString("correlation_id")).isEqualTo("gate-cid-2");
    assertThat(err.getString("address")).as(err.encode()).isEqualTo("snakepit.execute");
    assertThat(err.getString("message")).contains("'snakepit.execute'").contains("starting or stopping")
        .contains("not deployed");
  }

  @Test
  void whileStoppingEveryCallIsRefusedWith503ShuttingDownAndTheConnectionCloses() throws Exception {
    state.serving();
    state.stopping();
    HttpResponse<String> r = send("POST", "/v1/execute", "{\"tool\":\"noop\"}", "gate-cid-3");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(503);
    assertThat(r.headers().firstValue("Retry-After")).contains("1");
    assertThat(r.headers().firstValue("Connection")).contains("close");
    JsonObject err = error(r);
    assertThat(err.getString("code")).isEqualTo("shutting_down");
    assertThat(err.getString("correlation_id")).isEqualTo("gate-cid-3");
    assertThat(err.getString("message")).contains("gate-node is stopping").contains("another node");
    assertThat(err.getString("hint")).isEqualTo(ErrorCode.SHUTTING_DOWN.hint());

    assertThat(send("GET", "/health", null, null).statusCode()).isEqualTo(200);
    JsonObject ready = new JsonObject(send("GET", "/ready", null, null).body());
    assertThat(ready.getJsonObject("checks").getJsonObject("serving").getString("phase")).isEqualTo("stopping");
    assertThat(ready.getString("status")).isEqualTo("NOT_READY");
  }

  @Test
  void aStoppedNodeNeverServesAgain() {
    state.stopping();
    state.serving();
    assertThat(state.phase()).isEqualTo(ServingState.Phase.STOPPING);
    assertThat(state.refusal().errorCode()).isEqualTo(ErrorCode.SHUTTING_DOWN);
  }
}
