package io.snakepit.events;

import static io.snakepit.events.EventNode.await;
import static io.snakepit.events.EventNode.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.client.Call;
import io.snakepit.client.SnakepitClient;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * docs/sessions.md: "delete is idempotent. Workers are told (on_session_closed)
 * so adapters drop the session's Python-side state; expiry does the same." This
 * checks the expiry half end to end on the memory adapter: a real worker keeps
 * per-session state, the sweep expires the session, and the worker's
 * {@code on_session_closed} runs and drops that state.
 */
class ExpiryClosesSessionsTest {

  /** Keeps a value per session in the worker's memory, and records what {@code on_session_closed} dropped. */
  private static final String KEEPER = """
      from snakepit_worker import Adapter, tool

      _STATE = {}
      _CLOSED = []


      class Keeper(Adapter):
          @tool
          def keep(self, value, ctx):
              _STATE[ctx.session.id] = value
              return ctx.worker_id

          @tool
          def report(self):
              return {"held": sorted(_STATE), "closed": list(_CLOSED)}

          def on_session_closed(self, session_id):
              _CLOSED.append({"session_id": session_id, "dropped": _STATE.pop(session_id, None)})
      """;

  @Test
  void whenTheSweepExpiresASessionTheWorkerHoldingItsStateIsToldThroughOnSessionClosed() throws Exception {
    try (EventNode node = new EventNode()) {
      node.module("keeper", KEEPER);
      node.sessions(new JsonObject().put("sweep-interval-ms", 20)).pool(new JsonObject().put("size", 1)
          .put("adapter", "keeper:Keeper")).routing();
      SnakepitClient client = node.follower.client;
      await(client.createSession("long-lived", 3600, null));
      await(client.execute(new Call("keep").session("long-lived").args(new JsonObject().put("value", "stays"))));
      String expiring = keepStateInAShortSession(client);

      node.follower.await("session.expired", e -> expiring.equals(e.getString("session_id")));
      eventually("on_session_closed ran for " + expiring, () -> closed(client).stream()
          .anyMatch(c -> expiring.equals(((JsonObject) c).getString("session_id"))));

      JsonObject report = (JsonObject) await(client.execute("report", new JsonObject())).result();
      assertThat(report.getJsonArray("closed")).contains(
          new JsonObject().put("session_id", expiring).put("dropped", "gone soon"))
          .noneMatch(c -> "long-lived".equals(((JsonObject) c).getString("session_id")));
      assertThat(report.getJsonArray("held")).containsExactly("long-lived");
      assertThat(node.follower.find("session.deleted", e -> true)).as("expired, not deleted").isEmpty();
    }
  }

  /**
   * Creates a session with a one-second TTL and stores Python-side state in it;
   * returns its id. Should the session expire before the call reaches it (a
   * starved machine), tries again with a fresh id rather than fail the test.
   */
  private static String keepStateInAShortSession(SnakepitClient client) throws Exception {
    for (int attempt = 0; ; attempt++) {
      String id = "expiring-" + attempt;
      await(client.createSession(id, 1, null));
      try {
        client.execute(new Call("keep").session(id).args(new JsonObject().put("value", "gone soon")))
            .toCompletionStage().toCompletableFuture().get(EventNode.DEADLINE.toSeconds(), TimeUnit.SECONDS);
        return id;
      } catch (ExecutionException e) {
        if (!(e.getCause() instanceof SnakepitException se) || se.errorCode() != ErrorCode.SESSION_NOT_FOUND
            || attempt >= 5) {
          throw e;
        }
      }
    }
  }

  private static JsonArray closed(SnakepitClient client) {
    return ((JsonObject) await(client.execute("report", new JsonObject())).result()).getJsonArray("closed");
  }
}
