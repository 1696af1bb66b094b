package io.snakepit.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The HTTP API of a real node (in this JVM) with real Python workers, through a real HTTP client. */
class HttpApiTest {

  static Node node;
  static WebClient client;
  static WebClientNode web;

  @BeforeAll
  static void start() throws Exception {
    web = WebClientNode.start("http-test", new JsonObject().put("max-body-bytes", 64 * 1024)
        .put("pools", new JsonObject().put("default", new JsonObject().put("size", 2))));
    node = web.testNode.node;
    client = web.client;
  }

  @AfterAll
  static void stop() throws Exception {
    web.close();
  }

  static <T> T await(Future<T> f) throws Exception {
    return WebClientNode.await(f);
  }

  static HttpResponse<Buffer> post(String path, String body, String cid) throws Exception {
    var req = client.post(path).putHeader("Content-Type", "application/json");
    if (cid != null) {
      req.putHeader("X-Correlation-Id", cid);
    }
    return await(req.sendBuffer(Buffer.buffer(body)));
  }

  @Test
  void executeAnswersResultWorkerAndNode() throws Exception {
    HttpResponse<Buffer> r = post("/v1/execute", "{\"tool\":\"echo\",\"args\":{\"x\":1}}", null);
    assertThat(r.statusCode()).isEqualTo(200);
    JsonObject body = r.bodyAsJsonObject();
    assertThat(body.getJsonObject("result")).isEqualTo(new JsonObject().put("x", 1));
    assertThat(body.getString("worker")).startsWith("default-");
    assertThat(body.getString("node")).isEqualTo("http-test");
    assertThat(r.getHeader("X-Correlation-Id")).isNotBlank();
  }

  @Test
  void errorsAreTypedAndCarryTheClientsCorrelationId() throws Exception {
    HttpResponse<Buffer> r = post("/v1/execute", "{\"tool\":\"fail\",\"args\":{\"message\":\"nope\"}}", "abc-123");
    assertThat(r.statusCode()).isEqualTo(500);
    assertThat(r.getHeader("X-Correlation-Id")).isEqualTo("abc-123");
    JsonObject err = r.bodyAsJsonObject().getJsonObject("error");
    assertThat(err.getString("code")).isEqualTo("tool_failed");
    assertThat(err.getString("correlation_id")).isEqualTo("abc-123");
    assertThat(err.getString("traceback")).contains("nope");
    assertThat(err.getString("hint")).isNotBlank();

    HttpResponse<Buffer> unknown = post("/v1/execute", "{\"tool\":\"missing\"}", null);
    assertThat(unknown.statusCode()).isEqualTo(404);
    assertThat(unknown.bodyAsJsonObject().getJsonObject("error").getString("code")).isEqualTo("unknown_tool");
    assertThat(unknown.bodyAsJsonObject().getJsonObject("error").getJsonArray("tools").getList()).contains("echo");
  }

  @Test
  void badInputGetsFourHundredsAndChangesNothing() throws Exception {
    for (String body : List.of("not json", "[1,2]", "{\"tool\":5}", "{\"tool\":\"echo\",\"args\":[1]}",
        "{\"tool\":\"echo\",\"timeout_ms\":-1}", "")) {
      HttpResponse<Buffer> r = post("/v1/execute", body, null);
      assertThat(r.statusCode()).as(body).isEqualTo(400);
      assertThat(r.bodyAsJsonObject().getJsonObject("error").getString("code")).isEqualTo("bad_request");
      assertThat(r.bodyAsJsonObject().getJsonObject("error").getString("correlation_id")).isNotBlank();
    }
    char[] big = new char[100 * 1024];
    Arrays.fill(big, 'a');
    HttpResponse<Buffer> tooBig = post("/v1/execute", "{\"tool\":\"echo\",\"args\":{\"s\":\"" + new String(big)
        + "\"}}", null);
    assertThat(tooBig.statusCode()).isEqualTo(413);
    assertThat(tooBig.bodyAsJsonObject().getJsonObject("error").getString("code")).isEqualTo("payload_too_large");
    // the node still serves
    assertThat(post("/v1/execute", "{\"tool\":\"add\",\"args\":{\"a\":1,\"b\":2}}", null).bodyAsJsonObject()
        .getInteger("result")).isEqualTo(3);
  }

  @Test
  void oversizedBodiesOnSessionRoutesAre413AndChangeNothing() throws Exception {
    assertThat(post("/v1/sessions", "{\"id\":\"big-body\"}", null).statusCode()).isEqualTo(201);
    assertThat(await(client.put("/v1/sessions/big-body/variables/x").putHeader("Content-Type", "application/json")
        .sendBuffer(Buffer.buffer("{\"value\":1}"))).statusCode()).isEqualTo(200);
    JsonObject before = await(client.get("/v1/sessions/big-body").send()).bodyAsJsonObject();
    char[] big = new char[100 * 1024];
    Arrays.fill(big, 'a');
    String value = "{\"value\":\"" + new String(big) + "\"}";
    for (var req : List.of(client.put("/v1/sessions/big-body/variables/x"),
        client.put("/v1/sessions/big-body/programs/p"), client.post("/v1/sessions/big-body/execute"))) {
      HttpResponse<Buffer> r = await(req.putHeader("Content-Type", "application/json")
          .putHeader("X-Correlation-Id", "too-big-1").sendBuffer(Buffer.buffer(value)));
      assertThat(r.statusCode()).isEqualTo(413);
      assertThat(r.getHeader("X-Correlation-Id")).isEqualTo("too-big-1");
      JsonObject err = r.bodyAsJsonObject().getJsonObject("error");
      assertThat(err.getString("code")).isEqualTo("payload_too_large");
      assertThat(err.getString("correlation_id")).isEqualTo("too-big-1");
      assertThat(err.getString("message")).contains("max-body-bytes");
    }
    // Nothing changed: same value, same version, no program.
    JsonObject after = await(client.get("/v1/sessions/big-body").send()).bodyAsJsonObject();
    assertThat(after.getJsonObject("variables")).isEqualTo(new JsonObject().put("x", 1));
    assertThat(after.getLong("version")).isEqualTo(before.getLong("version"));
    assertThat(after.getJsonArray("program_ids")).isEmpty();
    assertThat(after.containsKey("last_worker")).isFalse();
  }

  @Test
  void streamAnswersNdjson() throws Exception {
    HttpResponse<Buffer> r = post("/v1/execute/stream", "{\"tool\":\"count\",\"args\":{\"n\":100}}", null);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.getHeader("Content-Type")).isEqualTo("application/x-ndjson");
    List<JsonObject> lines = r.bodyAsString().lines().map(JsonObject::new).toList();
    assertThat(lines.get(0).getBoolean("start")).isTrue();
    assertThat(lines.subList(1, 101)).extracting(l -> l.getJsonObject("item").getInteger("i"))
        .containsExactlyElementsOf(java.util.stream.IntStream.range(0, 100).boxed().toList());
    assertThat(lines.get(101).getBoolean("done")).isTrue();

    HttpResponse<Buffer> bad = post("/v1/execute/stream", "{\"tool\":\"nope\"}", null);
    assertThat(bad.statusCode()).isEqualTo(404);
  }

  @Test
  void theOpenApiDocumentIsServedAndRequestsAreValidatedAgainstIt() throws Exception {
    JsonObject doc = await(client.get("/openapi.json").send()).bodyAsJsonObject();
    assertThat(doc.getString("openapi")).startsWith("3.");
    assertThat(doc.getJsonObject("paths").fieldNames()).contains("/v1/execute", "/v1/sessions/{id}/execute");
    HttpResponse<Buffer> extra = post("/v1/execute", "{\"tool\":\"echo\",\"bogus\":1}", null);
    assertThat(extra.statusCode()).isEqualTo(400);
    assertThat(extra.bodyAsJsonObject().getJsonObject("error").getString("message")).contains("/openapi.json");
    // What `curl -d` sends: a JSON body labelled as a form. It is read as JSON.
    HttpResponse<Buffer> curlStyle = await(client.post("/v1/execute")
        .putHeader("Content-Type", "application/x-www-form-urlencoded")
        .sendBuffer(Buffer.buffer("{\"tool\":\"echo\",\"args\":{\"x\":1}}")));
    assertThat(curlStyle.statusCode()).isEqualTo(200);
    assertThat(curlStyle.bodyAsJsonObject().getJsonObject("result").getInteger("x")).isEqualTo(1);
  }

  @Test
  void streamAsServerSentEventsWhenAsked() throws Exception {
    HttpResponse<Buffer> r = await(client.post("/v1/execute/stream").putHeader("Accept", "text/event-stream")
        .sendBuffer(Buffer.buffer("{\"tool\":\"count\",\"args\":{\"n\":3}}")));
    assertThat(r.getHeader("Content-Type")).isEqualTo("text/event-stream");
    List<String> events = r.bodyAsString().lines().filter(l -> l.startsWith("event: ")).toList();
    assertThat(events).containsExactly("event: start", "event: item", "event: item", "event: item", "event: done");
    assertThat(r.bodyAsString()).contains("data: {\"item\":{\"i\":2}}");
  }

  @Test
  void aClientThatDisconnectsCancelsItsCallInTheWorker() throws Exception {
    String body = "{\"tool\":\"count\",\"args\":{\"n\":100000000,\"delay_ms\":1}}";
    try (java.net.Socket socket = new java.net.Socket("127.0.0.1", node.httpPort())) {
      socket.getOutputStream().write(("POST /v1/execute/stream HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
          + "\r\nContent-Length: " + body.length() + "\r\n\r\n" + body).getBytes());
      socket.getOutputStream().flush();
      byte[] some = new byte[512];
      assertThat(socket.getInputStream().read(some)).isPositive();
      assertThat(inflight()).isEqualTo(1);
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (inflight() != 0) {
      assertThat(System.nanoTime()).as("the worker's call is cancelled").isLessThan(deadline);
      Thread.sleep(20);
    }
  }

  private static int inflight() throws Exception {
    JsonObject workers = await(client.get("/v1/workers").send()).bodyAsJsonObject();
    return workers.getJsonArray("workers").stream().mapToInt(w -> ((JsonObject) w).getInteger("inflight")).sum();
  }

  @Test
  void workersHealthAndUnknownRoutes() throws Exception {
    JsonObject workers = await(client.get("/v1/workers").send()).bodyAsJsonObject();
    assertThat(workers.getJsonArray("workers")).hasSize(2);
    JsonObject w = workers.getJsonArray("workers").getJsonObject(0);
    assertThat(w.fieldNames()).contains("id", "pool", "pid", "state", "requests");
    HttpResponse<Buffer> health = await(client.get("/health").send());
    assertThat(health.statusCode()).isEqualTo(200);
    assertThat(health.bodyAsJsonObject().getString("status")).isEqualTo("UP");
    HttpResponse<Buffer> missing = await(client.get("/v1/nothing-here").send());
    assertThat(missing.statusCode()).isEqualTo(404);
    assertThat(missing.bodyAsJsonObject().getJsonObject("error").getString("code")).isEqualTo("not_found");
  }
}
