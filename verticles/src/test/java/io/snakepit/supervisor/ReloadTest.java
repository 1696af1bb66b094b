package io.snakepit.supervisor;

import static io.snakepit.supervisor.SupervisorHarness.await;
import static io.snakepit.supervisor.SupervisorHarness.awaitFailure;
import static io.snakepit.supervisor.SupervisorHarness.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.contract.Addresses;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.snakepit.routing.RoutingVerticle;
import io.snakepit.session.SessionStoreClient;
import io.snakepit.session.SessionStoreVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Rolling code reload ({@link PoolReload}; docs/operations.md, "Reloading
 * code") with real processes: an adapter module written into a temp dir that
 * is the pool's python-path, changed on disk, then reloaded, under a steady
 * load of calls, with a session's Python-side state carried over; and a new
 * version that does not import, with and without the forkserver.
 */
class ReloadTest {

  private static final String NODE = "test-node";
  private static final String ADAPTER = "reload_probe:Probe";

  private Path code;

  @BeforeEach
  void writeVersion1() throws IOException {
    code = Files.createTempDirectory("snakepit-reload-code-");
    writeAdapter("1", "");
  }

  @AfterEach
  void removeCode() throws IOException {
    try (Stream<Path> walk = Files.walk(code)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  /** The adapter at VERSION, with {@code extraImport} at the top of the module (to break it). */
  private void writeAdapter(String version, String extraImport) throws IOException {
    Files.writeString(code.resolve("reload_probe.py"), extraImport + """

        import json
        from typing import Any, Dict, Optional

        from snakepit_worker import Adapter, tool
        from snakepit_worker.context import Context

        VERSION = %s


        class Probe(Adapter):
            def setup(self) -> None:
                self._memory: Dict[str, Any] = {}

            @tool
            def version(self) -> int:
                return VERSION

            @tool
            def remember(self, value: Any, ctx: Context) -> Dict[str, Any]:
                self._memory[ctx.session.id] = value
                return {"worker_id": ctx.worker_id}

            @tool
            def recall(self, ctx: Context) -> Dict[str, Any]:
                return {"value": self._memory.get(ctx.session.id), "version": VERSION}

            def export_session(self, session_id: str) -> Optional[bytes]:
                if session_id not in self._memory:
                    return None
                return json.dumps(self._memory[session_id]).encode("utf-8")

            def import_session(self, session_id: str, data: bytes) -> None:
                self._memory[session_id] = json.loads(data.decode("utf-8"))
        """.formatted(version));
  }

  private JsonObject pool(int size, boolean forkserver) {
    return new JsonObject().put("size", size).put("adapter", ADAPTER).put("python-path", code.toString())
        .put("forkserver", forkserver).put("drain-timeout-ms", 5_000);
  }

  @Test
  void aReloadUnderLoadServesTheNewCodeWithoutAFailedCallAndKeepsSessionState() throws Exception {
    try (SupervisorHarness h = node(pool(8, true))) {
      List<String> before = h.readyIds("default");
      long oldForkserver = h.pool("default").getJsonObject("forkserver").getLong("pid");
      assertThat(version(h)).isEqualTo(1);
      await(store(h).create(new JsonObject().put("id", "s1")));
      await(call(h, "remember", new JsonObject().put("value", "kept"), "s1"));

      writeAdapter("2", "");
      Queue<JsonObject> events = reloadEvents(h);
      AtomicBoolean stop = new AtomicBoolean();
      AtomicInteger ok = new AtomicInteger();
      Queue<String> failures = new ConcurrentLinkedQueue<>();
      // A steady load: 8 clients, each sending its next call as soon as its last one is answered.
      List<Future<Void>> clients = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        clients.add(client(h, stop, ok, failures));
      }
      eventually("the load runs", () -> ok.get() > 50);
      Future<JsonObject> reload = h.supervisor().reload("default", handoff(h));
      Throwable second = awaitFailure(h.supervisor().reload("default", handoff(h)));
      assertThat(SnakepitException.from(second).errorCode()).isEqualTo(ErrorCode.RELOAD_IN_PROGRESS);
      assertThat(h.pool("default").getJsonObject("reload").getString("state")).isIn("starting", "replacing");

      JsonObject done = await(reload).getJsonObject("reload");
      int atReload = ok.get();
      eventually("calls after the reload", () -> ok.get() > atReload + 50);
      stop.set(true);
      await(Future.join(clients));

      assertThat(failures).as("failed calls during the reload").isEmpty();
      assertThat(done.getString("state")).isEqualTo("done");
      assertThat(done.getInteger("replaced")).isEqualTo(8);
      assertThat(done.getInteger("batch")).isEqualTo(2);
      assertThat(version(h)).isEqualTo(2);
      eventually("the old workers are gone", () -> h.workers().size() == 8);
      assertThat(h.readyIds("default")).hasSize(8).doesNotContainAnyElementsOf(before);
      JsonObject shown = h.pool("default");
      assertThat(shown.getJsonObject("reload").getString("state")).isEqualTo("done");
      assertThat(shown.getJsonObject("forkserver").getString("mode")).isEqualTo("fork");
      assertThat(shown.getJsonObject("forkserver").getLong("pid")).isNotEqualTo(oldForkserver);
      eventually("the old forkserver stops once its last worker has exited",
          () -> !SupervisorHarness.alive(oldForkserver));

      eventually("the reload's events", () -> events.stream().anyMatch(e -> e.getString("type").equals("pool.reload.finished")));
      assertThat(events.stream().map(e -> e.getString("type")).toList()).containsExactly("pool.reload.started",
          "pool.reload.progress", "pool.reload.progress", "pool.reload.progress", "pool.reload.progress",
          "pool.reload.finished");
      assertThat(events.stream().filter(e -> e.getString("type").equals("pool.reload.finished")).findFirst()
          .orElseThrow().getInteger("replaced")).isEqualTo(8);

      JsonObject recalled = await(call(h, "recall", new JsonObject(), "s1")).getJsonObject("result");
      assertThat(recalled.getString("value")).as("the session's state, handed over").isEqualTo("kept");
      assertThat(recalled.getInteger("version")).isEqualTo(2);
    }
  }

  @Test
  void aNewVersionThatDoesNotImportStopsTheReloadBeforeAnyWorkerIsTouched() throws Exception {
    try (SupervisorHarness h = node(pool(2, true))) {
      List<String> before = h.readyIds("default");
      long forkserver = h.pool("default").getJsonObject("forkserver").getLong("pid");
      writeAdapter("2", "import snakepit_no_such_module_for_reload\n");
      Queue<JsonObject> events = reloadEvents(h);

      Throwable t = awaitFailure(h.supervisor().reload("default", handoff(h)));
      SnakepitException e = SnakepitException.from(t);
      assertThat(e.errorCode()).isEqualTo(ErrorCode.RELOAD_FAILED);
      assertThat(e.getMessage()).contains("ModuleNotFoundError").contains("snakepit_no_such_module_for_reload");
      assertThat(e.toJson().getInteger("replaced")).isZero();

      assertThat(h.readyIds("default")).containsExactlyInAnyOrderElementsOf(before);
      assertThat(version(h)).as("the old workers keep serving").isEqualTo(1);
      JsonObject reload = h.pool("default").getJsonObject("reload");
      assertThat(reload.getString("state")).isEqualTo("failed");
      assertThat(reload.getString("error")).contains("ModuleNotFoundError");
      assertThat(h.pool("default").getJsonObject("forkserver").getLong("pid")).isEqualTo(forkserver);
      eventually("the failure's event", () -> events.stream().anyMatch(ev -> ev.getString("type").equals("pool.reload.failed")
          && ev.getString("error").contains("ModuleNotFoundError") && ev.getString("pool").equals("default")));

      // Fixed on disk, it reloads.
      writeAdapter("3", "");
      assertThat(await(h.supervisor().reload("default", handoff(h))).getJsonObject("reload").getString("state"))
          .isEqualTo("done");
      assertThat(version(h)).isEqualTo(3);
    }
  }

  @Test
  void withoutTheForkserverTheFirstNewWorkerShowsTheImportErrorAndTheOldWorkersServe() throws Exception {
    try (SupervisorHarness h = node(pool(2, false))) {
      List<String> before = h.readyIds("default");
      writeAdapter("2", "import snakepit_no_such_module_for_reload\n");

      SnakepitException e = SnakepitException.from(awaitFailure(h.supervisor().reload("default", handoff(h))));
      assertThat(e.errorCode()).isEqualTo(ErrorCode.RELOAD_FAILED);
      assertThat(e.getMessage()).contains("snakepit_no_such_module_for_reload");
      assertThat(h.readyIds("default")).containsExactlyInAnyOrderElementsOf(before);
      assertThat(version(h)).isEqualTo(1);
      assertThat(h.pool("default").getJsonObject("reload").getString("state")).isEqualTo("failed");

      writeAdapter("2", "");
      await(h.supervisor().reload("default", handoff(h)));
      assertThat(version(h)).isEqualTo(2);
      assertThat(h.readyIds("default")).hasSize(2).doesNotContainAnyElementsOf(before);
    }
  }

  @Test
  void anUnknownPoolIsAnUnknownPool() throws Exception {
    try (SupervisorHarness h = node(pool(1, true))) {
      assertThat(SnakepitException.from(awaitFailure(h.supervisor().reload("nope", handoff(h)))).errorCode())
          .isEqualTo(ErrorCode.UNKNOWN_POOL);
      assertThat(h.pool("default").getValue("reload")).isNull();
    }
  }

  // ---- harness ---------------------------------------------------------------------------------

  /** A node of one: session store, supervisor and router. */
  private static SupervisorHarness node(JsonObject pool) throws Exception {
    SupervisorHarness h = new SupervisorHarness();
    try {
      await(h.vertx.deployVerticle(new SessionStoreVerticle(), new DeploymentOptions().setConfig(new JsonObject()
          .put("node-id", NODE).put("sessions", new JsonObject().put("memory",
              new JsonObject().put("persistence", false))))));
      h.start(pool);
      await(h.vertx.deployVerticle(new RoutingVerticle(), new DeploymentOptions()
          .setConfig(new JsonObject().put("node-id", NODE))));
    } catch (Throwable t) {
      h.close();
      throw t;
    }
    return h;
  }

  private static Future<Void> client(SupervisorHarness h, AtomicBoolean stop, AtomicInteger ok,
                                     Queue<String> failures) {
    io.vertx.core.Promise<Void> done = io.vertx.core.Promise.promise();
    h.vertx.runOnContext(v -> loop(h, stop, ok, failures, done));
    return done.future();
  }

  private static void loop(SupervisorHarness h, AtomicBoolean stop, AtomicInteger ok, Queue<String> failures,
                           io.vertx.core.Promise<Void> done) {
    if (stop.get()) {
      done.complete();
      return;
    }
    call(h, "version", new JsonObject(), null).onComplete(ar -> {
      if (ar.succeeded()) {
        ok.incrementAndGet();
      } else {
        failures.add(String.valueOf(ar.cause()));
      }
      loop(h, stop, ok, failures, done);
    });
  }

  /** The pool.reload.* events published from now on. */
  private static Queue<JsonObject> reloadEvents(SupervisorHarness h) {
    Queue<JsonObject> events = new ConcurrentLinkedQueue<>();
    await(h.vertx.eventBus().<JsonObject>consumer(Addresses.EVENTS, m -> {
      if (m.body().getString("type", "").startsWith("pool.reload.")) {
        events.add(m.body());
      }
    }).completion());
    return events;
  }

  private static int version(SupervisorHarness h) {
    return await(call(h, "version", new JsonObject(), null)).getInteger("result");
  }

  private static SessionStoreClient store(SupervisorHarness h) {
    return SessionStoreClient.local(h.vertx);
  }

  private static SessionHandoff handoff(SupervisorHarness h) {
    return new SessionHandoff(h.vertx, h.supervisor(), store(h));
  }

  private static Future<JsonObject> call(SupervisorHarness h, String tool, JsonObject args, String session) {
    JsonObject body = new JsonObject().put("tool", tool).put("args", args);
    if (session != null) {
      body.put("session_id", session);
    }
    return h.vertx.eventBus().<JsonObject>request(Addresses.EXECUTE, body).map(Message::body);
  }

}
