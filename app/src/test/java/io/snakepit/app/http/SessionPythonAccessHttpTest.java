package io.snakepit.app.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.app.TestNode;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code ctx.session} beyond variables, against a real node and real Python workers: metadata,
 * delete and all. What Python writes is visible over HTTP as soon as its call has returned, and
 * what HTTP writes is what Python reads.
 */
class SessionPythonAccessHttpTest {

  static TestNode n;
  static Path tools;

  @BeforeAll
  static void start() throws Exception {
    tools = TestTools.write();
    n = TestNode.start("py-access-test", new JsonObject().put("pools", new JsonObject()
        .put("default", TestTools.pool(tools, 1))));
  }

  @AfterAll
  static void stop() throws Exception {
    if (n != null) {
      n.close();
    }
    TestNode.delete(tools);
  }

  /** Runs a tool in session {@code id}; the call must succeed. Returns its result. */
  static Object call(String id, String tool, JsonObject args) throws Exception {
    HttpResponse<String> r = n.send("POST", "/v1/sessions/" + id + "/execute",
        new JsonObject().put("tool", tool).put("args", args).encode());
    assertThat(r.statusCode()).as("%s: %s", tool, r.body()).isEqualTo(200);
    return new JsonObject(r.body()).getValue("result");
  }

  static JsonObject session(String id) throws Exception {
    HttpResponse<String> r = n.get("/v1/sessions/" + id);
    assertThat(r.statusCode()).isEqualTo(200);
    return new JsonObject(r.body());
  }

  @Test
  void metadataWrittenOverHttpIsReadInPythonAndBack() throws Exception {
    assertThat(n.send("POST", "/v1/sessions", "{\"id\":\"py-meta\",\"metadata\":{\"owner\":\"ann\"}}")
        .statusCode()).isEqualTo(201);
    assertThat(call("py-meta", "get_meta", new JsonObject().put("key", "owner"))).isEqualTo("ann");
    assertThat(call("py-meta", "get_meta", new JsonObject().put("key", "missing").put("default", "dflt")))
        .isEqualTo("dflt");

    call("py-meta", "set_meta", new JsonObject().put("key", "stage").put("value", new JsonObject().put("n", 1)));
    JsonObject meta = session("py-meta").getJsonObject("metadata");
    assertThat(meta.getJsonObject("stage")).isEqualTo(new JsonObject().put("n", 1));
    assertThat(meta.getString("owner")).isEqualTo("ann");
    call("py-meta", "set_meta", new JsonObject().put("key", "owner").put("value", "bob"));
    assertThat(session("py-meta").getJsonObject("metadata").getString("owner")).isEqualTo("bob");
    assertThat(call("py-meta", "get_meta", new JsonObject().put("key", "owner"))).isEqualTo("bob");
  }

  @Test
  void deleteAndAllSeeTheSameVariablesAsHttp() throws Exception {
    assertThat(n.send("POST", "/v1/sessions", "{\"id\":\"py-vars\"}").statusCode()).isEqualTo(201);
    assertThat(call("py-vars", "all_vars", new JsonObject())).isEqualTo(new JsonObject());
    assertThat(n.send("PUT", "/v1/sessions/py-vars/variables/a", "{\"value\":1}").statusCode()).isEqualTo(200);
    assertThat(n.send("PUT", "/v1/sessions/py-vars/variables/b", "{\"value\":[1,2]}").statusCode())
        .isEqualTo(200);
    call("py-vars", "set_var", new JsonObject().put("name", "c").put("value", new JsonObject().put("k", "v")));
    // Written from Python: visible over HTTP as soon as the call returned.
    HttpResponse<String> c = n.get("/v1/sessions/py-vars/variables/c");
    assertThat(c.statusCode()).isEqualTo(200);
    assertThat(new JsonObject(c.body()).getJsonObject("value")).isEqualTo(new JsonObject().put("k", "v"));

    assertThat(call("py-vars", "all_vars", new JsonObject())).isEqualTo(new JsonObject().put("a", 1)
        .put("b", new JsonArray().add(1).add(2)).put("c", new JsonObject().put("k", "v")));

    call("py-vars", "delete_var", new JsonObject().put("name", "a"));
    HttpResponse<String> gone = n.get("/v1/sessions/py-vars/variables/a");
    assertThat(gone.statusCode()).isEqualTo(404);
    assertThat(new JsonObject(gone.body()).getJsonObject("error").getString("code"))
        .isEqualTo("not_found_in_session");
    assertThat(new JsonObject(n.get("/v1/sessions/py-vars/variables").body()).getJsonObject("variables")
        .fieldNames()).containsExactlyInAnyOrder("b", "c");
    assertThat(call("py-vars", "get_var", new JsonObject().put("name", "a").put("default", "unset")))
        .isEqualTo("unset");
    // Deleting what is not there is not an error.
    call("py-vars", "delete_var", new JsonObject().put("name", "never-set"));
    assertThat(call("py-vars", "all_vars", new JsonObject())).isEqualTo(
        new JsonObject().put("b", new JsonArray().add(1).add(2)).put("c", new JsonObject().put("k", "v")));
  }
}
