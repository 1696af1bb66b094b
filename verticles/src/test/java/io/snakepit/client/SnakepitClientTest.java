package io.snakepit.client;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.snakepit.session.SessionStoreVerticle;
import io.snakepit.supervisor.ProcessSupervisorVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.streams.ReadStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link SnakepitClient} used from a second verticle, as another Vert.x
 * application would, against the session and supervision verticles with real
 * Python workers.
 */
class SnakepitClientTest {

  Vertx vertx;
  Path data;

  /** Stands for the user's application: it only knows the client. */
  static final class App extends VerticleBase {
    SnakepitClient client;

    @Override
    public Future<?> start() {
      client = SnakepitClient.create(vertx, new ClientOptions().setStreamWindow(4));
      return Future.succeededFuture();
    }
  }

  App app;

  @BeforeEach
  void start() throws Exception {
    vertx = Vertx.builder().with(new VertxOptions().setPreferNativeTransport(true)).build();
    data = Files.createTempDirectory("snakepit-client-");
    await(vertx.deployVerticle(new SessionStoreVerticle(), new DeploymentOptions().setConfig(new JsonObject()
        .put("node-id", "n1").put("sessions", new JsonObject().put("memory",
            new JsonObject().put("persistence", false))))));
    await(vertx.deployVerticle(new ProcessSupervisorVerticle(), new DeploymentOptions().setConfig(new JsonObject()
        .put("node-id", "n1").put("data-dir", data.toString()).put("pools", new JsonObject().put("default",
            new JsonObject().put("size", 1).put("concurrency", 2).put("adapter", "evil_adapter:EvilAdapter")
                .put("python-path", Path.of("src", "test", "python").toAbsolutePath().toString())
                .put("drain-timeout-ms", 200))))));
    await(vertx.deployVerticle(new io.snakepit.routing.RoutingVerticle(), new DeploymentOptions()
        .setConfig(new JsonObject().put("node-id", "n1"))));
    app = new App();
    await(vertx.deployVerticle(app));
  }

  @AfterEach
  void stop() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    try (var walk = Files.walk(data)) {
      walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  static <T> T await(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  static void eventually(String what, BooleanSupplier c) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!c.getAsBoolean()) {
      if (System.nanoTime() > end) {
        throw new AssertionError("timed out waiting for: " + what);
      }
      Thread.sleep(10);
    }
  }

  @Test
  void executesAndFailsWithTypedErrors() throws Exception {
    ExecuteResult r = await(app.client.execute("echo", new JsonObject().put("k", "v")));
    assertThat(r.result()).isEqualTo(new JsonObject().put("k", "v"));
    assertThat(r.node()).isEqualTo("n1");
    SnakepitException e = (SnakepitException) app.client.execute(new Call("nope").correlationId("my-cid"))
        .toCompletionStage().toCompletableFuture().handle((v, t) -> t.getCause() != null ? t.getCause() : t).get();
    assertThat(e.errorCode()).isEqualTo(ErrorCode.UNKNOWN_TOOL);
    assertThat(e.correlationId()).isEqualTo("my-cid");
  }

  @Test
  void sessionsThroughTheClient() throws Exception {
    JsonObject s = await(app.client.createSession("c1", 60, new JsonObject().put("k", 1)));
    assertThat(s.getString("id")).isEqualTo("c1");
    assertThat(await(app.client.putVariable("c1", "x", 41))).isEqualTo(2L);
    assertThat(await(app.client.getVariable("c1", "x"))).isEqualTo(41);
    assertThat(await(app.client.execute(new Call("remember").session("c1").args(new JsonObject().put("value", 9))))
        .worker()).isNotNull();
    assertThat(await(app.client.execute(new Call("recall").session("c1"))).result()).isEqualTo(9);
    assertThat(await(app.client.deleteSession("c1"))).isTrue();
    Throwable gone = app.client.getSession("c1").toCompletionStage().toCompletableFuture()
        .handle((v, t) -> t).get();
    assertThat(SnakepitException.from(gone.getCause() != null ? gone.getCause() : gone).errorCode())
        .isEqualTo(ErrorCode.SESSION_NOT_FOUND);
  }

  @Test
  void pausingTheStreamHoldsThePythonGenerator() throws Exception {
    List<Object> items = new CopyOnWriteArrayList<>();
    Promise<Void> ended = Promise.promise();
    ReadStream<Object> stream = app.client.stream("produce", new JsonObject().put("n", 1000));
    stream.endHandler(v -> ended.complete()).exceptionHandler(ended::fail);
    stream.handler(item -> {
      items.add(item);
      if (items.size() == 1) {
        stream.pause();
      }
    });
    eventually("the first item", () -> !items.isEmpty());
    // While paused, the generator stays within a few windows of what was read (4 per window, credit
    // returned in half windows, one item held by the worker): nowhere near the 1000 it would reach unpaced.
    for (int i = 0; i < 20; i++) {
      int produced = (Integer) await(app.client.execute("produced", new JsonObject())).result();
      assertThat(produced).isLessThanOrEqualTo(12);
    }
    assertThat(ended.future().isComplete()).isFalse();
    stream.resume();
    await(ended.future());
    assertThat(items).hasSize(1000);
    assertThat(items.get(999)).isEqualTo(999);
  }

  @Test
  void streamErrorsReachTheExceptionHandler() throws Exception {
    Promise<Throwable> failed = Promise.promise();
    app.client.stream("nope", new JsonObject()).exceptionHandler(failed::complete).handler(i -> { });
    assertThat(((SnakepitException) await(failed.future())).errorCode()).isEqualTo(ErrorCode.UNKNOWN_TOOL);
  }

  @Test
  void eventsCanBeFollowed() throws Exception {
    List<String> types = new CopyOnWriteArrayList<>();
    app.client.events(e -> types.add(e.getString("type")));
    await(app.client.createSession("ev", 60, null));
    await(app.client.deleteSession("ev"));
    eventually("session events", () -> types.containsAll(List.of("session.created", "session.deleted")));
  }
}
