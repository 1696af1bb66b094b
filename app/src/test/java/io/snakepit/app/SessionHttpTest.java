package io.snakepit.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Sessions over HTTP on a real node with real Python workers: CRUD, execute in a session, affinity, Python access. */
class SessionHttpTest {

  static Node node;
  static WebClient client;
  static WebClientNode web;

  @BeforeAll
  static void start() throws Exception {
    web = WebClientNode.start("sess-test", new JsonObject()
        .put("pools", new JsonObject().put("default", new JsonObject().put("size", 3))));
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

  static HttpResponse<Buffer> send(HttpMethod method, String path, String body) throws Exception {
    var req = client.request(method, path).putHeader("Content-Type", "application/json");
    return await(body == null ? req.send() : req.sendBuffer(Buffer.buffer(body)));
  }

  static JsonObject error(HttpResponse<Buffer> r) {
    return r.bodyAsJsonObject().getJsonObject("error");
  }

  @Test
  void createIsIdempotentAndDeleteIsToo() throws Exception {
    HttpResponse<Buffer> first = send(HttpMethod.POST, "/v1/sessions",
        "{\"id\":\"s-crud\",\"ttl_s\":600,\"metadata\":{\"owner\":\"ann\"}}");
    assertThat(first.statusCode()).isEqualTo(201);
    assertThat(first.bodyAsJsonObject().getJsonObject("metadata").getString("owner")).isEqualTo("ann");
    HttpResponse<Buffer> again = send(HttpMethod.POST, "/v1/sessions", "{\"id\":\"s-crud\"}");
    assertThat(again.statusCode()).isEqualTo(200);
    assertThat(again.bodyAsJsonObject().getLong("created_at"))
        .isEqualTo(first.bodyAsJsonObject().getLong("created_at"));
    HttpResponse<Buffer> generated = send(HttpMethod.POST, "/v1/sessions", null);
    assertThat(generated.statusCode()).isEqualTo(201);
    assertThat(generated.bodyAsJsonObject().getString("id")).matches("[A-Za-z0-9._:-]{1,128}");
    assertThat(send(HttpMethod.GET, "/v1/sessions/s-crud", null).statusCode()).isEqualTo(200);
    assertThat(send(HttpMethod.DELETE, "/v1/sessions/s-crud", null).statusCode()).isEqualTo(204);
    assertThat(send(HttpMethod.DELETE, "/v1/sessions/s-crud", null).statusCode()).isEqualTo(204);
    HttpResponse<Buffer> gone = send(HttpMethod.GET, "/v1/sessions/s-crud", null);
    assertThat(gone.statusCode()).isEqualTo(404);
    assertThat(error(gone).getString("code")).isEqualTo("session_not_found");
    assertThat(error(gone).getString("correlation_id")).isNotBlank();
  }

  @Test
  void variablesAndProgramsOverHttp() throws Exception {
    send(HttpMethod.POST, "/v1/sessions", "{\"id\":\"s-vars\"}");
    assertThat(send(HttpMethod.PUT, "/v1/sessions/s-vars/variables/x", "{\"value\":{\"a\":[1,2]}}").statusCode())
        .isEqualTo(200);
    assertThat(send(HttpMethod.GET, "/v1/sessions/s-vars/variables/x", null).bodyAsJsonObject()
        .getJsonObject("value")).isEqualTo(new JsonObject().put("a", new io.vertx.core.json.JsonArray().add(1).add(2)));
    assertThat(send(HttpMethod.GET, "/v1/sessions/s-vars/variables", null).bodyAsJsonObject()
        .getJsonObject("variables").fieldNames()).containsExactly("x");
    assertThat(send(HttpMethod.DELETE, "/v1/sessions/s-vars/variables/x", null).statusCode()).isEqualTo(204);
    HttpResponse<Buffer> missing = send(HttpMethod.GET, "/v1/sessions/s-vars/variables/x", null);
    assertThat(missing.statusCode()).isEqualTo(404);
    assertThat(error(missing).getString("code")).isEqualTo("not_found_in_session");
    assertThat(send(HttpMethod.PUT, "/v1/sessions/s-vars/programs/p1", "{\"steps\":[\"a\",\"b\"]}").statusCode())
        .isEqualTo(200);
    assertThat(send(HttpMethod.GET, "/v1/sessions/s-vars/programs/p1", null).bodyAsJsonObject()
        .getJsonObject("program").getJsonArray("steps").getList()).containsExactly("a", "b");
    assertThat(send(HttpMethod.PUT, "/v1/sessions/s-vars/variables/y", "{\"nope\":1}").statusCode()).isEqualTo(400);
  }

  @Test
  void countersOverHttpAndFromPython() throws Exception {
    send(HttpMethod.POST, "/v1/sessions", "{\"id\":\"s-ctr\"}");
    HttpResponse<Buffer> first = send(HttpMethod.POST, "/v1/sessions/s-ctr/variables/n/increment", null);
    assertThat(first.statusCode()).as(first.bodyAsString()).isEqualTo(200);
    assertThat(first.bodyAsJsonObject()).isEqualTo(new JsonObject().put("name", "n").put("value", 1));
    assertThat(send(HttpMethod.POST, "/v1/sessions/s-ctr/variables/n/increment", "{\"by\":10}").bodyAsJsonObject()
        .getLong("value")).isEqualTo(11L);
    // A Python tool adds to the same counter through ctx.session.incr.
    JsonObject tally = send(HttpMethod.POST, "/v1/sessions/s-ctr/execute",
        "{\"tool\":\"tally\",\"args\":{\"name\":\"n\",\"by\":-3}}").bodyAsJsonObject();
    assertThat(tally.getLong("result")).as(tally.encode()).isEqualTo(8L);
    assertThat(send(HttpMethod.GET, "/v1/sessions/s-ctr/variables/n", null).bodyAsJsonObject().getLong("value"))
        .isEqualTo(8L);
    // Bad input: typed 400s that change nothing.
    for (String body : List.of("{\"by\":\"x\"}", "{\"by\":1.5}", "{\"by\":1,\"extra\":2}", "[1]", "not json")) {
      HttpResponse<Buffer> r = send(HttpMethod.POST, "/v1/sessions/s-ctr/variables/n/increment", body);
      assertThat(r.statusCode()).as(body).isEqualTo(400);
      assertThat(error(r).getString("code")).as(body).isEqualTo("bad_request");
      assertThat(error(r).getString("correlation_id")).as(body).isNotBlank();
    }
    HttpResponse<Buffer> set = send(HttpMethod.PUT, "/v1/sessions/s-ctr/variables/n", "{\"value\":0}");
    assertThat(set.statusCode()).isEqualTo(400);
    assertThat(error(set).getString("message")).contains("counter");
    assertThat(send(HttpMethod.DELETE, "/v1/sessions/s-ctr/variables/n", null).statusCode()).isEqualTo(400);
    send(HttpMethod.PUT, "/v1/sessions/s-ctr/variables/plain", "{\"value\":5}");
    HttpResponse<Buffer> notCounter = send(HttpMethod.POST, "/v1/sessions/s-ctr/variables/plain/increment", null);
    assertThat(notCounter.statusCode()).isEqualTo(400);
    assertThat(error(notCounter).getString("message")).contains("not a counter");
    // From Python, the refusal is a NodeCallError the tool may catch; left uncaught, the tool failed.
    HttpResponse<Buffer> pyNotCounter = send(HttpMethod.POST, "/v1/sessions/s-ctr/execute",
        "{\"tool\":\"tally\",\"args\":{\"name\":\"plain\"}}");
    assertThat(error(pyNotCounter).getString("code")).as(pyNotCounter.bodyAsString()).isEqualTo("tool_failed");
    assertThat(error(pyNotCounter).getString("message")).contains("bad_request").contains("not a counter");
    assertThat(send(HttpMethod.GET, "/v1/sessions/s-ctr/variables", null).bodyAsJsonObject()
        .getJsonObject("variables")).isEqualTo(new JsonObject().put("n", 8).put("plain", 5));
    assertThat(send(HttpMethod.POST, "/v1/sessions/nope-ctr/variables/n/increment", null).statusCode())
        .isEqualTo(404);
  }

  @Test
  void badIdsAndBadJsonAreTypedFourHundreds() throws Exception {
    for (String body : List.of("{\"id\":\"has space\"}", "{\"id\":\"" + "x".repeat(129) + "\"}", "{\"id\":5}",
        "{\"ttl_s\":-1}", "{\"ttl_s\":99999999}", "{\"metadata\":[1]}", "not json")) {
      HttpResponse<Buffer> r = send(HttpMethod.POST, "/v1/sessions", body);
      assertThat(r.statusCode()).as(body).isEqualTo(400);
      assertThat(error(r).getString("code")).as(body).isEqualTo("bad_request");
    }
    assertThat(send(HttpMethod.GET, "/v1/sessions/bad%20id", null).statusCode()).isEqualTo(400);
    assertThat(send(HttpMethod.GET, "/v1/sessions?limit=abc", null).statusCode()).isEqualTo(400);
  }

  @Test
  void executeInASessionPrefersTheWorkerThatHoldsItsState() throws Exception {
    send(HttpMethod.POST, "/v1/sessions", "{\"id\":\"s-aff\"}");
    JsonObject remembered = send(HttpMethod.POST, "/v1/sessions/s-aff/execute",
        "{\"tool\":\"remember\",\"args\":{\"value\":\"kept\"}}").bodyAsJsonObject();
    String worker = remembered.getString("worker");
    for (int i = 0; i < 5; i++) {
      JsonObject recall = send(HttpMethod.POST, "/v1/sessions/s-aff/execute", "{\"tool\":\"recall\"}")
          .bodyAsJsonObject();
      assertThat(recall.getString("worker")).isEqualTo(worker);
      assertThat(recall.getJsonObject("result").getString("value")).isEqualTo("kept");
    }
    assertThat(send(HttpMethod.GET, "/v1/sessions/s-aff", null).bodyAsJsonObject().getString("last_worker"))
        .isEqualTo(worker);
    HttpResponse<Buffer> none = send(HttpMethod.POST, "/v1/sessions/nope-none/execute", "{\"tool\":\"echo\"}");
    assertThat(none.statusCode()).isEqualTo(404);
    assertThat(error(none).getString("code")).isEqualTo("session_not_found");
  }

  @Test
  void pythonReadsAndWritesSessionVariablesVisibleAtOnce() throws Exception {
    send(HttpMethod.POST, "/v1/sessions", "{\"id\":\"s-py\"}");
    for (int i = 1; i <= 3; i++) {
      JsonObject r = send(HttpMethod.POST, "/v1/sessions/s-py/execute",
          "{\"tool\":\"incr\",\"args\":{\"name\":\"n\"}}").bodyAsJsonObject();
      assertThat(r.getInteger("result")).isEqualTo(i);
      assertThat(send(HttpMethod.GET, "/v1/sessions/s-py/variables/n", null).bodyAsJsonObject()
          .getInteger("value")).isEqualTo(i);
    }
    // Without a session, ctx.session is a clear error: the caller's, session_required.
    HttpResponse<Buffer> r = send(HttpMethod.POST, "/v1/execute", "{\"tool\":\"incr\",\"args\":{\"name\":\"n\"}}");
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(error(r).getString("code")).isEqualTo("session_required");
    assertThat(error(r).getString("type")).contains("SessionUnavailableError");
    assertThat(error(r).getString("message")).contains("without a session");
  }

  @Test
  void deletingASessionTellsTheWorkersToDropItsState() throws Exception {
    send(HttpMethod.POST, "/v1/sessions", "{\"id\":\"s-close\"}");
    String worker = send(HttpMethod.POST, "/v1/sessions/s-close/execute",
        "{\"tool\":\"remember\",\"args\":{\"value\":1}}").bodyAsJsonObject().getString("worker");
    send(HttpMethod.DELETE, "/v1/sessions/s-close", null);
    send(HttpMethod.POST, "/v1/sessions", "{\"id\":\"s-close\"}");
    // The recreated session's first call may go anywhere; ask every worker until the old one answers.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    boolean dropped = false;
    while (!dropped && System.nanoTime() < deadline) {
      JsonObject r = send(HttpMethod.POST, "/v1/sessions/s-close/execute",
          "{\"tool\":\"recall\",\"affinity\":\"hint\"}").bodyAsJsonObject();
      if (worker.equals(r.getString("worker"))) {
        dropped = r.getJsonObject("result").getValue("value") == null;
        if (!dropped) {
          Thread.sleep(20); // on_session_closed is asynchronous: poll
        }
      } else {
        send(HttpMethod.PUT, "/v1/sessions/s-close/variables/steer", "{\"value\":1}");
        send(HttpMethod.DELETE, "/v1/sessions/s-close", null);
        send(HttpMethod.POST, "/v1/sessions", "{\"id\":\"s-close\"}");
      }
    }
    assertThat(dropped).as("worker %s dropped the session's memory", worker).isTrue();
  }

  @Test
  void strictFailFastAnswersWorkerBusy() throws Exception {
    send(HttpMethod.POST, "/v1/sessions", "{\"id\":\"s-busy\"}");
    send(HttpMethod.POST, "/v1/sessions/s-busy/execute", "{\"tool\":\"echo\"}");
    // strict-queue: the slow call runs on the session's worker even if a probe below holds it for a moment
    // (with hint it could fall back to another worker, and the probes would never find the session's busy).
    var slow = client.post("/v1/sessions/s-busy/execute").sendBuffer(Buffer.buffer(
        "{\"tool\":\"sleep\",\"args\":{\"ms\":3000},\"affinity\":\"strict-queue\"}"));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    HttpResponse<Buffer> busy = null;
    while (System.nanoTime() < deadline) {
      busy = send(HttpMethod.POST, "/v1/sessions/s-busy/execute",
          "{\"tool\":\"echo\",\"affinity\":\"strict-fail-fast\"}");
      if (busy.statusCode() == 409 || slow.isComplete()) {
        break;
      }
    }
    assertThat(busy.statusCode()).isEqualTo(409);
    assertThat(error(busy).getString("code")).isEqualTo("worker_busy");
    HttpResponse<Buffer> bad = send(HttpMethod.POST, "/v1/sessions/s-busy/execute",
        "{\"tool\":\"echo\",\"affinity\":\"sticky\"}");
    assertThat(bad.statusCode()).isEqualTo(400);
    await(slow);
  }

  @Test
  void exportThenImportRoundTripsInStorageForm() throws Exception {
    for (int i = 0; i < 30; i++) {
      send(HttpMethod.POST, "/v1/sessions", "{\"id\":\"exp-" + i + "\"}");
      send(HttpMethod.PUT, "/v1/sessions/exp-" + i + "/variables/v", "{\"value\":" + i + "}");
    }
    HttpResponse<Buffer> export = send(HttpMethod.GET, "/v1/sessions/export", null);
    assertThat(export.getHeader("Content-Type")).isEqualTo("application/x-ndjson");
    List<String> lines = export.bodyAsString().lines().toList();
    JsonObject summary = new JsonObject(lines.get(lines.size() - 1));
    long exported = lines.size() - 1L;
    assertThat(summary.getLong("exported")).isEqualTo(exported).isGreaterThanOrEqualTo(30L);
    String dump = String.join("\n", lines) + "\n";

    // Gone for good (a fresh node, empty store): the import brings them back, variables and all.
    try (TestNode fresh = TestNode.start("sess-import", new JsonObject()
        .put("pools", new JsonObject().put("default", new JsonObject().put("size", 1))))) {
      assertThat(fresh.get("/v1/sessions/exp-3").statusCode()).isEqualTo(404);
      java.net.http.HttpResponse<String> into = fresh.send("POST", "/v1/sessions/import", dump);
      assertThat(into.statusCode()).isEqualTo(200);
      JsonObject report = new JsonObject(into.body());
      assertThat(report.getLong("imported")).isEqualTo(exported);
      assertThat(report.getLong("failed")).isZero();
      for (int i = 0; i < 30; i++) {
        java.net.http.HttpResponse<String> back = fresh.get("/v1/sessions/exp-" + i);
        assertThat(back.statusCode()).isEqualTo(200);
        assertThat(new JsonObject(back.body()).getJsonObject("variables")).isEqualTo(new JsonObject().put("v", i));
      }
    }

    // Deleted here: the import merges, and a delete is newer than the exported copy, so its tombstone wins.
    for (int i = 0; i < 30; i++) {
      send(HttpMethod.DELETE, "/v1/sessions/exp-" + i, null);
    }
    send(HttpMethod.POST, "/v1/sessions", "{\"id\":\"exp-new\"}");
    HttpResponse<Buffer> imported = send(HttpMethod.POST, "/v1/sessions/import",
        dump + "{not json}\n{\"id\":\"bad id\"}\n");
    assertThat(imported.statusCode()).isEqualTo(200);
    JsonObject report = imported.bodyAsJsonObject();
    // The deleted ones are skipped, and said so; the others (live here still) are merged.
    assertThat(report.getLong("imported")).isEqualTo(exported - 30);
    assertThat(report.getLong("skipped")).isEqualTo(30);
    assertThat(report.getJsonObject("skipped_reasons")).isEqualTo(new JsonObject().put("deleted", 30));
    assertThat(report.getJsonArray("skipped_sessions").getJsonObject(0).getString("id")).startsWith("exp-");
    assertThat(report.getLong("failed")).isEqualTo(2);
    assertThat(report.getJsonArray("errors").getJsonObject(0).getLong("line")).isEqualTo(lines.size() + 1L);
    assertThat(send(HttpMethod.GET, "/v1/sessions/exp-3", null).statusCode()).isEqualTo(404);
    assertThat(send(HttpMethod.GET, "/v1/sessions/exp-new", null).statusCode()).isEqualTo(200);
  }

  @Test
  void listPagesByCursor() throws Exception {
    for (int i = 0; i < 12; i++) {
      send(HttpMethod.POST, "/v1/sessions", "{\"id\":\"page-" + String.format("%02d", i) + "\"}");
    }
    java.util.Set<String> seen = new java.util.HashSet<>();
    String cursor = null;
    int pages = 0;
    do {
      JsonObject page = send(HttpMethod.GET, "/v1/sessions?limit=5" + (cursor == null ? "" : "&cursor=" + cursor),
          null).bodyAsJsonObject();
      page.getJsonArray("sessions").forEach(s -> assertThat(seen.add(((JsonObject) s).getString("id"))).isTrue());
      cursor = page.getString("next_cursor");
      pages++;
    } while (cursor != null && pages < 1000);
    assertThat(seen).contains("page-00", "page-11");
  }
}
