package io.snakepit.app.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.app.TestNode;
import io.snakepit.session.SessionStoreClient;
import io.snakepit.session.StoredHandoff;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The typed errors of a tool's session use, and the node's reserved keys,
 * against a real node with real Python workers: {@code ctx.session} without a
 * session is 400 {@code session_required}, a session deleted while a call runs
 * in it is 404 {@code session_not_found}, and node-internal keys never leave
 * the node.
 */
class SessionErrorsHttpTest {

  static TestNode n;
  static Path tools;

  @BeforeAll
  static void start() throws Exception {
    tools = TestTools.write();
    n = TestNode.start("session-errors-test", new JsonObject().put("pools", new JsonObject()
        .put("default", TestTools.pool(tools, 2))));
  }

  @AfterAll
  static void stop() throws Exception {
    if (n != null) {
      n.close();
    }
    TestNode.delete(tools);
  }

  @Test
  void ctxSessionWithoutASessionIsSessionRequired() throws Exception {
    HttpResponse<String> r = n.send("POST", "/v1/execute", "{\"tool\":\"get_var\",\"args\":{\"name\":\"x\"}}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
    JsonObject err = new JsonObject(r.body()).getJsonObject("error");
    assertThat(err.getString("code")).isEqualTo("session_required");
    assertThat(err.getString("message")).contains("without a session");
    assertThat(err.getString("correlation_id")).isEqualTo(r.headers().firstValue("X-Correlation-Id").orElseThrow());
  }

  @Test
  void aSessionDeletedDuringItsCallIsSessionNotFound() throws Exception {
    assertThat(n.send("POST", "/v1/sessions", "{\"id\":\"doomed\"}").statusCode()).isEqualTo(201);
    CompletableFuture<HttpResponse<String>> call = n.http.sendAsync(n.request("POST", "/v1/sessions/doomed/execute",
        "{\"tool\":\"write_until_deleted\"}").build(), HttpResponse.BodyHandlers.ofString());
    TestNode.until("the tool runs", Duration.ofSeconds(30),
        () -> n.get("/v1/sessions/doomed/variables/started").statusCode() == 200);
    assertThat(n.send("DELETE", "/v1/sessions/doomed", null).statusCode()).isEqualTo(204);

    HttpResponse<String> r = call.get(60, TimeUnit.SECONDS);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(404);
    JsonObject err = new JsonObject(r.body()).getJsonObject("error");
    assertThat(err.getString("code")).isEqualTo("session_not_found");
    assertThat(err.getString("session_id")).isEqualTo("doomed");
    assertThat(err.getString("correlation_id")).isNotBlank();
  }

  @Test
  void reservedKeysNeverLeaveTheNodeAndCannotBeSet() throws Exception {
    assertThat(n.send("POST", "/v1/sessions", "{\"id\":\"internal\",\"metadata\":{\"team\":\"a\"}}").statusCode())
        .isEqualTo(201);
    SessionStoreClient.local(n.node.vertx()).putHandoff("internal", new StoredHandoff("c3RhdGU=", "n1", "w", false))
        .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);

    HttpResponse<String> export = n.get("/v1/sessions/export");
    assertThat(export.statusCode()).isEqualTo(200);
    assertThat(export.body()).contains("\"internal\"").contains("\"team\"").doesNotContain("__snakepit_");
    assertThat(n.get("/v1/sessions/internal").body()).doesNotContain("__snakepit_");
    assertThat(inSession("internal", "get_meta", new JsonObject().put("key", "__snakepit_handoff")))
        .as("reads as absent from Python").isNull();

    HttpResponse<String> create = n.send("POST", "/v1/sessions", "{\"metadata\":{\"__snakepit_handoff\":1}}");
    assertThat(create.statusCode()).isEqualTo(400);
    assertThat(new JsonObject(create.body()).getJsonObject("error").getString("message")).contains("reserved");
  }

  /** Runs a tool in a session; the call must succeed. Returns its result. */
  private static Object inSession(String session, String tool, JsonObject args) throws Exception {
    HttpResponse<String> r = n.send("POST", "/v1/sessions/" + session + "/execute",
        new JsonObject().put("tool", tool).put("args", args).encode());
    assertThat(r.statusCode()).as("%s: %s", tool, r.body()).isEqualTo(200);
    return new JsonObject(r.body()).getValue("result");
  }
}
