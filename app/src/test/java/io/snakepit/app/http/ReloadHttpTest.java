package io.snakepit.app.http;

import static io.snakepit.app.CliRun.cli;
import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.app.CliRun;
import io.snakepit.app.TestNode;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code POST /v1/pools/{name}/reload} and {@code snakepit pools reload} on a
 * real node: the pool's adapter module lives in a temp dir (its python-path)
 * and is changed on disk between versions; calls keep coming over HTTP during
 * the reload and none fails.
 */
class ReloadHttpTest {

  private static final Duration DEADLINE = Duration.ofSeconds(60);
  static Path code;
  static TestNode n;

  @BeforeAll
  static void start() throws Exception {
    code = Files.createTempDirectory("snakepit-reload-http-");
    write("1", "");
    n = TestNode.start("reload-test", new JsonObject().put("pools", new JsonObject()
        .put("default", new JsonObject().put("size", 4).put("adapter", "reload_http_probe:Probe")
            .put("python-path", code.toString()))));
  }

  @AfterAll
  static void stop() throws Exception {
    try {
      if (n != null) {
        n.close();
      }
    } finally {
      TestNode.delete(code);
    }
  }

  static void write(String version, String extraImport) throws Exception {
    Files.writeString(code.resolve("reload_http_probe.py"), extraImport + """

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
            def remember(self, value: str, ctx: Context) -> None:
                self._memory[ctx.session.id] = value

            @tool
            def recall(self, ctx: Context) -> Optional[str]:
                return self._memory.get(ctx.session.id)

            def export_session(self, session_id: str) -> Optional[bytes]:
                value = self._memory.get(session_id)
                return None if value is None else value.encode("utf-8")

            def import_session(self, session_id: str, data: bytes) -> None:
                self._memory[session_id] = data.decode("utf-8")
        """.formatted(version));
  }

  static Object result(HttpResponse<String> r) {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return new JsonObject(r.body()).getValue("result");
  }

  static int version() throws Exception {
    return (Integer) result(n.send("POST", "/v1/execute", "{\"tool\":\"version\"}"));
  }

  static JsonObject reloadShown() throws Exception {
    HttpResponse<String> r = n.get("/v1/pools");
    return new JsonObject(r.body()).getJsonArray("pools").getJsonObject(0).getJsonObject("reload");
  }

  @Test
  void aReloadUnderLoadAnswersOnceDoneFailsNoCallAndKeepsTheSessionsState() throws Exception {
    int before = version();
    assertThat(n.send("POST", "/v1/sessions", "{\"id\":\"reload-s1\"}").statusCode()).isEqualTo(201);
    result(n.send("POST", "/v1/sessions/reload-s1/execute", "{\"tool\":\"remember\",\"args\":{\"value\":\"kept\"}}"));
    write(Integer.toString(before + 1), "");

    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger ok = new AtomicInteger();
    Queue<String> failures = new ConcurrentLinkedQueue<>();
    List<Thread> clients = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      Thread t = new Thread(() -> {
        while (!stop.get()) {
          try {
            HttpResponse<String> r = n.send("POST", "/v1/execute", "{\"tool\":\"version\"}");
            if (r.statusCode() == 200) {
              ok.incrementAndGet();
            } else {
              failures.add(r.statusCode() + " " + r.body());
            }
          } catch (Exception e) {
            failures.add(e.toString());
          }
        }
      }, "reload-http-client-" + i);
      t.start();
      clients.add(t);
    }
    try {
      TestNode.until("the load runs", DEADLINE, () -> ok.get() > 30);
      CompletableFuture<HttpResponse<String>> reload = n.http.sendAsync(
          n.request("POST", "/v1/pools/default/reload", "").build(), HttpResponse.BodyHandlers.ofString());
      TestNode.until("the reload shows", DEADLINE, () -> reloadShown() != null
          && List.of("starting", "replacing").contains(reloadShown().getString("state")) || reload.isDone());
      if (!reload.isDone()) {
        HttpResponse<String> second = n.send("POST", "/v1/pools/default/reload", "");
        // Refused, not joined, unless the first ended in between.
        if (!reload.isDone()) {
          assertThat(second.statusCode()).as(second.body()).isEqualTo(409);
          assertThat(new JsonObject(second.body()).getJsonObject("error").getString("code"))
              .isEqualTo("reload_in_progress");
        }
      }
      HttpResponse<String> r = reload.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      JsonObject done = new JsonObject(r.body()).getJsonObject("reload");
      assertThat(done.getString("state")).isEqualTo("done");
      assertThat(done.getInteger("replaced")).isEqualTo(4);
      int atReload = ok.get();
      TestNode.until("calls after the reload", DEADLINE, () -> ok.get() > atReload + 30);
    } finally {
      stop.set(true);
      for (Thread t : clients) {
        t.join(DEADLINE.toMillis());
      }
    }
    assertThat(failures).as("failed calls during the reload").isEmpty();
    assertThat(version()).isEqualTo(before + 1);
    assertThat(reloadShown().getString("state")).isEqualTo("done");
    assertThat(result(n.send("POST", "/v1/sessions/reload-s1/execute", "{\"tool\":\"recall\"}")))
        .as("the session's Python-side state survived the reload").isEqualTo("kept");
  }

  @Test
  void aNewVersionThatDoesNotImportIs422WithTheImportErrorAndTheOldWorkersServe() throws Exception {
    int before = version();
    write(Integer.toString(before + 1), "import snakepit_no_such_module_for_reload\n");
    try {
      HttpResponse<String> r = n.send("POST", "/v1/pools/default/reload", "");
      assertThat(r.statusCode()).as(r.body()).isEqualTo(422);
      JsonObject error = new JsonObject(r.body()).getJsonObject("error");
      assertThat(error.getString("code")).isEqualTo("reload_failed");
      assertThat(error.getString("error")).contains("ModuleNotFoundError")
          .contains("snakepit_no_such_module_for_reload");
      assertThat(error.getInteger("replaced")).isZero();
      assertThat(version()).as("the old workers keep serving").isEqualTo(before);
      JsonObject shown = reloadShown();
      assertThat(shown.getString("state")).isEqualTo("failed");
      assertThat(shown.getString("error")).contains("ModuleNotFoundError");

      CliRun cli = cli("pools", "reload", "default", "--url", n.url());
      assertThat(cli.code()).as(cli.err()).isEqualTo(1);
      assertThat(cli.err()).contains("reload_failed");
      CliRun list = cli("pools", "list", "--url", n.url());
      assertThat(list.code()).isZero();
      assertThat(list.out()).contains("default").contains("failed");
    } finally {
      write(Integer.toString(before), "");
    }
    CliRun fixed = cli("pools", "reload", "default", "--url", n.url());
    assertThat(fixed.code()).as(fixed.err()).isZero();
    assertThat(fixed.out()).contains("reloaded pool default: done 4/4");
    assertThat(version()).isEqualTo(before);
  }

  @Test
  void anUnknownPoolIs404() throws Exception {
    HttpResponse<String> r = n.send("POST", "/v1/pools/nope/reload", "");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(404);
    assertThat(new JsonObject(r.body()).getJsonObject("error").getString("code")).isEqualTo("unknown_pool");
  }

}
