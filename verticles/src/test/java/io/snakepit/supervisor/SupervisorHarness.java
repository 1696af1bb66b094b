package io.snakepit.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

/**
 * Starts a real supervisor with real Python workers on a fresh Vert.x, and
 * removes everything it made when closed. Tests talk to it through the
 * in-process {@link ProcessSupervisor} or the event bus.
 */
final class SupervisorHarness implements AutoCloseable {

  static final Duration DEADLINE = Duration.ofSeconds(30);

  final Vertx vertx;
  final Path dataDir;
  final ProcessSupervisorVerticle verticle = new ProcessSupervisorVerticle();
  String deploymentId;

  SupervisorHarness() throws IOException {
    vertx = Vertx.builder().with(new VertxOptions().setPreferNativeTransport(true)).build();
    dataDir = Files.createTempDirectory("snakepit-test-");
  }

  /** A config with one pool named {@code default}, with the given pool settings. */
  JsonObject config(JsonObject pool) {
    return new JsonObject().put("node-id", "test-node").put("data-dir", dataDir.toString())
        .put("pools", new JsonObject().put("default", pool));
  }

  SupervisorHarness start(JsonObject pool) {
    return startWith(config(pool));
  }

  SupervisorHarness startWith(JsonObject config) {
    deploymentId = await(vertx.deployVerticle(verticle, new DeploymentOptions().setConfig(config)));
    return this;
  }

  ProcessSupervisor supervisor() {
    return verticle.supervisor();
  }

  /** Runs on the supervisor's context and waits for the answer. */
  <T> T onContext(java.util.function.Supplier<T> fn) {
    CompletableFuture<T> f = new CompletableFuture<>();
    supervisor().context().runOnContext(v -> {
      try {
        f.complete(fn.get());
      } catch (Throwable t) {
        f.completeExceptionally(t);
      }
    });
    try {
      return f.get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  JsonArray workers() {
    return onContext(() -> supervisor().workers().copy());
  }

  JsonObject pool() {
    return onContext(() -> supervisor().pools().getJsonObject(0).copy());
  }

  List<Long> readyPids() {
    return workers().stream().map(o -> (JsonObject) o).filter(w -> "ready".equals(w.getString("state")))
        .map(w -> w.getLong("pid")).toList();
  }

  /** Executes and waits; failures are returned, not thrown, so tests can inspect them. */
  Future<JsonObject> execute(String tool, JsonObject args) {
    return supervisor().execute(new ExecuteRequest(null, tool, args, 0, null, "cid-test"));
  }

  Future<JsonObject> execute(String tool, JsonObject args, long timeoutMs) {
    return supervisor().execute(new ExecuteRequest(null, tool, args, timeoutMs, null, "cid-test"));
  }

  static <T> T await(Future<T> f) {
    try {
      return f.toCompletionStage().toCompletableFuture().get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("future did not succeed: " + e, e);
    }
  }

  static Throwable awaitFailure(Future<?> f) {
    try {
      f.toCompletionStage().toCompletableFuture().get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      return e.getCause();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
    throw new AssertionError("expected a failure");
  }

  /** Polls until the condition holds, or fails at the deadline. */
  static void eventually(String what, BooleanSupplier condition) {
    long end = System.nanoTime() + DEADLINE.toNanos();
    while (System.nanoTime() < end) {
      if (condition.getAsBoolean()) {
        return;
      }
      Thread.onSpinWait();
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
    throw new AssertionError("timed out waiting for: " + what);
  }

  static boolean alive(long pid) {
    return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
  }

  @Override
  public void close() throws Exception {
    List<Long> pids = workers().stream().map(o -> ((JsonObject) o).getLong("pid")).filter(p -> p > 0).toList();
    try {
      vertx.close().toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    } finally {
      for (long pid : pids) {
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
      }
      try (Stream<Path> walk = Files.walk(dataDir)) {
        walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
    for (long pid : pids) {
      assertThat(alive(pid)).as("worker pid %d outlived its test", pid).isFalse();
    }
  }
}
