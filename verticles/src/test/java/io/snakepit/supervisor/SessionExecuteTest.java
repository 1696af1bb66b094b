package io.snakepit.supervisor;

import static io.snakepit.supervisor.SupervisorHarness.await;
import static io.snakepit.supervisor.SupervisorHarness.awaitFailure;
import static io.snakepit.supervisor.SupervisorHarness.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.contract.Addresses;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.snakepit.session.SessionStoreVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Calls in sessions through the event bus, with the session-storage verticle and real workers. */
class SessionExecuteTest {

  private static final String PY_PATH = Path.of("src", "test", "python").toAbsolutePath().toString();

  private static SupervisorHarness start(int size) throws Exception {
    SupervisorHarness h = new SupervisorHarness();
    await(h.vertx.deployVerticle(new SessionStoreVerticle(), new DeploymentOptions().setConfig(new JsonObject()
        .put("node-id", "test-node").put("sessions", new JsonObject().put("memory",
            new JsonObject().put("persistence", false))))));
    h.start(new JsonObject().put("size", size).put("adapter", "evil_adapter:EvilAdapter")
        .put("python-path", PY_PATH).put("drain-timeout-ms", 200).put("backoff-min-ms", 50));
    await(h.vertx.deployVerticle(new io.snakepit.routing.RoutingVerticle(), new DeploymentOptions()
        .setConfig(new JsonObject().put("node-id", "test-node"))));
    return h;
  }

  private static Future<JsonObject> call(SupervisorHarness h, JsonObject body) {
    return h.vertx.eventBus().<JsonObject>request(Addresses.EXECUTE, body).map(Message::body);
  }

  private static void createSession(SupervisorHarness h, String id) {
    await(h.vertx.eventBus().request(Addresses.SESSION_PREFIX + "create", new JsonObject().put("id", id)));
  }

  @Test
  void strictQueueWaitsForTheSessionsWorkerWhileHintMovesOn() throws Exception {
    try (SupervisorHarness h = start(2)) {
      createSession(h, "sq");
      String home = await(call(h, new JsonObject().put("tool", "remember").put("session_id", "sq")
          .put("args", new JsonObject().put("value", 7)))).getString("result");
      Future<JsonObject> busy = call(h, new JsonObject().put("tool", "sleep").put("session_id", "sq")
          .put("args", new JsonObject().put("ms", 1500)));
      eventually("the session's worker is busy", () -> h.workers().stream()
          .anyMatch(w -> ((JsonObject) w).getString("id").equals(home) && ((JsonObject) w).getInteger("inflight") == 1));
      Future<JsonObject> queued = call(h, new JsonObject().put("tool", "recall").put("session_id", "sq")
          .put("affinity", "strict-queue"));
      JsonObject moved = await(call(h, new JsonObject().put("tool", "recall").put("session_id", "sq")
          .put("affinity", "hint")));
      assertThat(moved.getString("worker")).isNotEqualTo(home);
      assertThat(moved.getValue("result")).isNull();
      assertThat(queued.isComplete()).isFalse();
      JsonObject waited = await(queued);
      assertThat(busy.isComplete()).isTrue();
      assertThat(waited.getString("worker")).isEqualTo(home);
      assertThat(waited.getInteger("result")).isEqualTo(7);
    }
  }

  @Test
  void aToolCannotReachAnotherSessionOrOneWithoutASession() throws Exception {
    try (SupervisorHarness h = start(1)) {
      createSession(h, "mine");
      createSession(h, "theirs");
      await(h.vertx.eventBus().request(Addresses.SESSION_PREFIX + "var.put",
          new JsonObject().put("id", "theirs").put("name", "secret").put("value", "s3cr3t")));
      SnakepitException e = (SnakepitException) SnakepitException.from(awaitFailure(call(h, new JsonObject()
          .put("tool", "peek").put("session_id", "mine").put("args", new JsonObject().put("other", "theirs")))));
      // The node's refusal escapes the tool as its own code, not as the tool's failure.
      assertThat(e.errorCode()).isEqualTo(ErrorCode.SESSION_REQUIRED);
      assertThat(e.getMessage()).contains("session_required").doesNotContain("s3cr3t");
    }
  }

  @Test
  void whenTheSessionsWorkerDiesTheNextCallGoesElsewhereAndItsStateIsGone() throws Exception {
    try (SupervisorHarness h = start(1)) {
      createSession(h, "gone");
      String home = await(call(h, new JsonObject().put("tool", "remember").put("session_id", "gone")
          .put("args", new JsonObject().put("value", "x")))).getString("worker");
      long pid = h.readyPids().get(0);
      new ProcessBuilder("kill", "-KILL", Long.toString(pid)).start().waitFor();
      eventually("a replacement is ready", () -> h.readyPids().size() == 1 && !h.readyPids().contains(pid));
      JsonObject after = await(call(h, new JsonObject().put("tool", "recall").put("session_id", "gone")
          .put("affinity", "strict-queue")));
      assertThat(after.getString("worker")).isNotEqualTo(home);
      assertThat(after.getValue("result")).isNull();
    }
  }
}
