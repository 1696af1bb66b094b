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
 * {@code GET /v1/cluster}, {@code POST /v1/admin/drain} and the {@code owner} of a session, as
 * docs/http-api.md describes them, on a real single node with a real Python worker.
 */
class ClusterDrainHttpTest {

  static TestNode n;

  @BeforeAll
  static void start() throws Exception {
    n = TestNode.start("drain-test", new JsonObject().put("pools", new JsonObject()
        .put("default", new JsonObject().put("size", 1))));
  }

  @AfterAll
  static void stop() throws Exception {
    if (n != null) {
      n.close();
    }
  }

  static JsonObject json(HttpResponse<String> r) {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return new JsonObject(r.body());
  }

  @Test
  void theClusterViewThenADrainThatLeavesTheRingAndHandsTheSessionsStateOff() throws Exception {
    TestNode.until("the node is in its ring", Duration.ofSeconds(30),
        () -> json(n.get("/v1/cluster")).getJsonArray("ring").contains("drain-test"));
    JsonObject view = json(n.get("/v1/cluster"));
    assertThat(view.getString("node")).isEqualTo("drain-test");
    assertThat(view.getBoolean("draining")).isFalse();
    assertThat(view.getJsonArray("ring")).containsExactly("drain-test");
    JsonArray nodes = view.getJsonArray("nodes");
    assertThat(nodes).hasSize(1);
    JsonObject self = nodes.getJsonObject(0);
    // Others may add fields to a node entry (cluster.md); these are the ones http-api.md names.
    assertThat(self.fieldNames()).contains("node", "http", "draining", "capacity", "free", "queued", "at",
        "in_ring");
    assertThat(self.getString("node")).isEqualTo("drain-test");
    assertThat(self.getString("http")).isEqualTo("127.0.0.1:" + n.node.httpPort());
    assertThat(self.getInteger("capacity")).isEqualTo(1);
    assertThat(self.getBoolean("in_ring")).isTrue();

    assertThat(n.send("POST", "/v1/sessions", "{\"id\":\"drained\"}").statusCode()).isEqualTo(201);
    assertThat(n.send("POST", "/v1/sessions/drained/execute", "{\"tool\":\"remember\",\"args\":{\"value\":7}}")
        .statusCode()).isEqualTo(200);
    assertThat(json(n.get("/v1/sessions/drained")).getString("owner")).isEqualTo("drain-test");

    JsonObject drained = json(n.send("POST", "/v1/admin/drain", null));
    assertThat(drained).isEqualTo(new JsonObject().put("draining", true).put("exported", 1).put("empty", 0)
        .put("failed", 0));
    TestNode.until("the node left its ring", Duration.ofSeconds(30),
        () -> json(n.get("/v1/cluster")).getJsonArray("ring").isEmpty());
    JsonObject after = json(n.get("/v1/cluster"));
    assertThat(after.getBoolean("draining")).isTrue();
    assertThat(after.getJsonArray("nodes").getJsonObject(0).getBoolean("in_ring")).isFalse();
    assertThat(after.getJsonArray("nodes").getJsonObject(0).getBoolean("draining")).isTrue();
    // No node owns sessions now; the state waits in the store for the session's next worker.
    JsonObject session = json(n.get("/v1/sessions/drained"));
    assertThat(session.containsKey("owner")).isTrue();
    assertThat(session.getValue("owner")).isNull();
    assertThat(session.getBoolean("handoff_pending")).isTrue();
    // A drained node still serves what it is sent.
    assertThat(json(n.send("POST", "/v1/execute", "{\"tool\":\"add\",\"args\":{\"a\":2,\"b\":3}}"))
        .getInteger("result")).isEqualTo(5);
  }
}
