package io.snakepit.app.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.snakepit.app.TestNode;
import io.snakepit.contract.Addresses;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code GET /v1/cluster}, the drain ({@code POST /v1/admin/drain} and the steps it starts with)
 * and the {@code owner} of a session, as docs/http-api.md describes them, on a real single node with
 * a real Python worker.
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
  void theClusterViewThenADrainThatLeavesTheRingHandsTheStateOffAndStopsTheNode() throws Exception {
    TestNode.until("the node is in its ring", Duration.ofSeconds(30),
        () -> json(n.get("/v1/cluster")).getJsonArray("ring").contains("drain-test"));
    JsonObject view = json(n.get("/v1/cluster"));
    assertThat(view.getString("node")).isEqualTo("drain-test");
    assertThat(view.getBoolean("draining")).isFalse();
    assertThat(view.getJsonArray("ring")).containsExactly("drain-test");
    JsonArray nodes = view.getJsonArray("nodes");
    assertThat(nodes).hasSize(1);
    JsonObject self = nodes.getJsonObject(0);
    assertThat(self.fieldNames()).contains("id", "addresses", "capacity", "free", "queued", "workers",
        "sessions_owned", "draining", "in_ring", "last_heard_ms");
    assertThat(self.getString("id")).isEqualTo("drain-test");
    assertThat(self.getJsonObject("addresses").getString("http")).isEqualTo("127.0.0.1:" + n.node.httpPort());
    assertThat(self.getJsonObject("addresses").getString("grpc")).isEqualTo("127.0.0.1:" + n.node.grpcPort());
    assertThat(self.getInteger("capacity")).isEqualTo(1);
    assertThat(self.getJsonObject("workers").getInteger("size")).isEqualTo(1);
    assertThat(self.getBoolean("in_ring")).isTrue();

    assertThat(n.send("POST", "/v1/sessions", "{\"id\":\"drained\"}").statusCode()).isEqualTo(201);
    assertThat(n.send("POST", "/v1/sessions/drained/execute", "{\"tool\":\"remember\",\"args\":{\"value\":7}}")
        .statusCode()).isEqualTo(200);
    assertThat(json(n.get("/v1/sessions/drained")).getString("owner")).isEqualTo("drain-test");
    // The node counts the sessions it owns (every few seconds).
    TestNode.until("the view counts the session", Duration.ofSeconds(30), () -> json(n.get("/v1/cluster"))
        .getJsonArray("nodes").getJsonObject(0).getLong("sessions_owned", 0L) == 1L);

    // The first steps of a drain, as the node takes them before it stops: leave the ring, hand the state off.
    JsonObject drained = n.node.vertx().eventBus().<JsonObject>request(Addresses.DRAIN, new JsonObject())
        .await().body();
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

    // POST /v1/admin/drain: 202, then the node drains and stops (as on SIGTERM; the launcher then exits).
    CompletableFuture<Void> stopped = new CompletableFuture<>();
    n.node.onStopRequested(() -> new Thread(() -> {
      n.node.close();
      stopped.complete(null);
    }).start());
    HttpResponse<String> accepted = n.send("POST", "/v1/admin/drain", null);
    assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
    assertThat(new JsonObject(accepted.body())).isEqualTo(new JsonObject().put("node", "drain-test")
        .put("stopping", true));
    stopped.get(90, TimeUnit.SECONDS);
    assertThatThrownBy(() -> n.get("/health")).as("the stopped node's HTTP port").isInstanceOf(IOException.class);
  }
}
