package io.snakepit.supervisor;

import static io.snakepit.supervisor.SupervisorHarness.await;
import static io.snakepit.supervisor.SupervisorHarness.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.contract.Addresses;
import io.snakepit.session.SessionStoreVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

/**
 * Export of sessions' Python-side state and its import by the next worker,
 * on one node: the state survives the loss of the worker that held it.
 */
class HandoffTest {

  @Test
  void exportedStateIsImportedByTheSessionsNextWorker() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness()) {
      await(h.vertx.deployVerticle(new SessionStoreVerticle(), new DeploymentOptions().setConfig(new JsonObject()
          .put("node-id", "test-node").put("sessions", new JsonObject().put("memory",
              new JsonObject().put("persistence", false))))));
      h.start(new JsonObject().put("size", 1).put("backoff-min-ms", 50).put("drain-timeout-ms", 200));
      await(h.vertx.deployVerticle(new io.snakepit.routing.RoutingVerticle(), new DeploymentOptions()
          .setConfig(new JsonObject().put("node-id", "test-node"))));
      await(h.vertx.eventBus().request(Addresses.SESSION_PREFIX + "create", new JsonObject().put("id", "h1")));
      await(call(h, "remember", new JsonObject().put("value", new JsonObject().put("k", "kept"))));

      JsonObject report = await(h.vertx.eventBus().<JsonObject>request(Addresses.SUPERVISOR_HANDOFF,
          new JsonObject())).body();
      assertThat(report.getInteger("exported")).isEqualTo(1);
      assertThat(await(h.vertx.eventBus().<JsonObject>request(Addresses.SESSION_PREFIX + "get",
          new JsonObject().put("id", "h1"))).body().getBoolean("handoff_pending")).isTrue();

      long pid = h.readyPids().get(0);
      new ProcessBuilder("kill", "-KILL", Long.toString(pid)).start().waitFor();
      eventually("a replacement is ready", () -> h.readyPids().size() == 1 && !h.readyPids().contains(pid));

      JsonObject recalled = await(call(h, "recall", new JsonObject()));
      assertThat(recalled.getJsonObject("result").getJsonObject("value").getString("k")).isEqualTo("kept");
      assertThat(await(h.vertx.eventBus().<JsonObject>request(Addresses.SESSION_PREFIX + "get",
          new JsonObject().put("id", "h1"))).body().containsKey("handoff_pending")).isFalse();
      // Callers cannot reach the reserved tools.
      Throwable t = io.snakepit.supervisor.SupervisorHarness.awaitFailure(call(h, "__snakepit_export__",
          new JsonObject().put("session_id", "h1")));
      assertThat(io.snakepit.contract.SnakepitException.from(t).errorCode().code()).isEqualTo("bad_request");
    }
  }

  private static Future<JsonObject> call(SupervisorHarness h, String tool, JsonObject args) {
    return h.vertx.eventBus().<JsonObject>request(Addresses.EXECUTE, new JsonObject().put("tool", tool)
        .put("args", args).put("session_id", "h1")).map(Message::body);
  }
}
