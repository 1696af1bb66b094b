package io.snakepit.app.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.app.TestNode;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code POST /v1/sessions/{id}/execute/stream} on a real node with real Python workers: NDJSON,
 * server-sent events, the session's worker kept for its next call, and cancel on disconnect.
 */
class SessionStreamHttpTest {

  static TestNode n;
  static Path tools;

  @BeforeAll
  static void start() throws Exception {
    tools = TestTools.write();
    n = TestNode.start("stream-test", new JsonObject().put("pools", new JsonObject()
        .put("default", new JsonObject().put("size", 2))
        .put("tools", TestTools.pool(tools, 1))));
  }

  @AfterAll
  static void stop() throws Exception {
    if (n != null) {
      n.close();
    }
    TestNode.delete(tools);
  }

  static JsonObject json(HttpResponse<String> r) {
    return new JsonObject(r.body());
  }

  static void createSession(String id) throws Exception {
    assertThat(n.send("POST", "/v1/sessions", "{\"id\":\"" + id + "\"}").statusCode()).isIn(200, 201);
  }

  /** One server-sent event: its name and its data, parsed as JSON. */
  record Event(String name, JsonObject data) {
  }

  /** Parses a text/event-stream body: blocks separated by a blank line, each "event: X" and "data: {json}". */
  static List<Event> events(String body) {
    List<Event> out = new ArrayList<>();
    for (String block : body.split("\n\n")) {
      if (block.isBlank()) {
        continue;
      }
      List<String> lines = block.lines().toList();
      assertThat(lines).as("an event is one event line and one data line: %s", block).hasSize(2);
      assertThat(lines.get(0)).startsWith("event: ");
      assertThat(lines.get(1)).startsWith("data: ");
      out.add(new Event(lines.get(0).substring(7), new JsonObject(lines.get(1).substring(6))));
    }
    return out;
  }

  @Test
  void ndjsonItemsArriveAndTheSessionsWorkerServesItsNextCalls() throws Exception {
    createSession("st-ndjson");
    HttpResponse<String> r = n.send("POST", "/v1/sessions/st-ndjson/execute/stream",
        "{\"tool\":\"count\",\"args\":{\"n\":5}}");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type")).hasValue("application/x-ndjson");
    List<JsonObject> lines = r.body().lines().map(JsonObject::new).toList();
    assertThat(lines).hasSize(7);
    JsonObject start = lines.get(0);
    assertThat(start.getBoolean("start")).isTrue();
    assertThat(start.getString("node")).isEqualTo("stream-test");
    String worker = start.getString("worker");
    assertThat(worker).startsWith("default-");
    assertThat(lines.subList(1, 6)).extracting(l -> l.getJsonObject("item").getInteger("i"))
        .containsExactly(0, 1, 2, 3, 4);
    assertThat(lines.get(6)).isEqualTo(new JsonObject().put("done", true));

    // The stream recorded its worker as the session's...
    JsonObject session = json(n.get("/v1/sessions/st-ndjson"));
    assertThat(session.getString("last_worker")).isEqualTo(worker);
    assertThat(session.getString("last_node")).isEqualTo("stream-test");
    assertThat(session.getString("owner")).isEqualTo("stream-test");
    // ...so the session's next calls go there, where its Python-side state lives. Without the
    // preference the pool would take turns between its two idle workers.
    for (int i = 0; i < 4; i++) {
      JsonObject info = json(n.send("POST", "/v1/sessions/st-ndjson/execute", "{\"tool\":\"info\"}"));
      assertThat(info.getString("worker")).isEqualTo(worker);
      assertThat(info.getJsonObject("result").getString("worker_id")).isEqualTo(worker);
    }

    HttpResponse<String> none = n.send("POST", "/v1/sessions/st-none/execute/stream", "{\"tool\":\"count\"}");
    assertThat(none.statusCode()).isEqualTo(404);
    assertThat(json(none).getJsonObject("error").getString("code")).isEqualTo("session_not_found");
  }

  @Test
  void serverSentEventsWhenTheClientAsksForThem() throws Exception {
    createSession("st-sse");
    HttpResponse<String> r = n.http.send(n.request("POST", "/v1/sessions/st-sse/execute/stream",
            "{\"tool\":\"count\",\"args\":{\"n\":3}}").header("Accept", "text/event-stream").build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type")).hasValue("text/event-stream");
    assertThat(r.headers().firstValue("Cache-Control")).hasValue("no-cache");
    List<Event> events = events(r.body());
    assertThat(events).extracting(Event::name).containsExactly("start", "item", "item", "item", "done");
    JsonObject start = events.get(0).data();
    assertThat(start.getBoolean("start")).isTrue();
    assertThat(start.getString("node")).isEqualTo("stream-test");
    assertThat(events.subList(1, 4)).extracting(e -> e.data().getJsonObject("item").getInteger("i"))
        .containsExactly(0, 1, 2);
    assertThat(events.get(4).data()).isEqualTo(new JsonObject().put("done", true));
    assertThat(json(n.get("/v1/sessions/st-sse")).getString("last_worker")).isEqualTo(start.getString("worker"));
  }

  @Test
  void aFailureAfterTheStartIsAnErrorEventWithTheCorrelationId() throws Exception {
    createSession("st-sse-fail");
    HttpResponse<String> r = n.http.send(n.request("POST", "/v1/sessions/st-sse-fail/execute/stream",
            "{\"tool\":\"fail_after\",\"pool\":\"tools\",\"args\":{\"n\":2}}")
        .header("Accept", "text/event-stream").header("X-Correlation-Id", "sse-fail-1").build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("X-Correlation-Id")).hasValue("sse-fail-1");
    List<Event> events = events(r.body());
    assertThat(events).extracting(Event::name).containsExactly("start", "item", "item", "error");
    JsonObject error = events.get(3).data().getJsonObject("error");
    assertThat(error.getString("code")).isEqualTo("tool_failed");
    assertThat(error.getString("message")).contains("failed after 2 items");
    assertThat(error.getString("correlation_id")).isEqualTo("sse-fail-1");
  }

  @Test
  void theOpenApiDocumentOffersEventStreamsOnBothStreamRoutes() throws Exception {
    JsonObject paths = json(n.get("/openapi.json")).getJsonObject("paths");
    for (String path : new String[] {"/v1/execute/stream", "/v1/sessions/{id}/execute/stream"}) {
      assertThat(paths.getJsonObject(path).getJsonObject("post").getJsonObject("responses").getJsonObject("200")
          .getJsonObject("content").fieldNames()).as(path).containsExactlyInAnyOrder("application/x-ndjson",
          "text/event-stream");
    }
  }

  @Test
  void aClientThatDisconnectsAnEventStreamCancelsTheCallInTheWorker() throws Exception {
    createSession("st-sse-cancel");
    String body = "{\"tool\":\"count\",\"args\":{\"n\":100000000,\"delay_ms\":1}}";
    try (RawStream stream = RawStream.post(n.node.httpPort(), "/v1/sessions/st-sse-cancel/execute/stream", body,
        "Accept: text/event-stream")) {
      String head = stream.readUntil("event: item");
      assertThat(head).contains("Content-Type: text/event-stream").contains("event: start");
      assertThat(inflight()).isEqualTo(1);
    }
    // 10^8 items a millisecond apart would take days: reaching zero means the worker's call was cancelled.
    TestNode.until("the worker's call is cancelled", Duration.ofSeconds(30), () -> inflight() == 0);
    // The session and its worker serve on.
    JsonObject after = json(n.send("POST", "/v1/sessions/st-sse-cancel/execute", "{\"tool\":\"add\","
        + "\"args\":{\"a\":1,\"b\":2}}"));
    assertThat(after.getInteger("result")).isEqualTo(3);
  }

  private static int inflight() throws Exception {
    JsonArray workers = json(n.get("/v1/workers")).getJsonArray("workers");
    return IntStream.range(0, workers.size()).map(i -> workers.getJsonObject(i).getInteger("inflight", 0)).sum();
  }
}
