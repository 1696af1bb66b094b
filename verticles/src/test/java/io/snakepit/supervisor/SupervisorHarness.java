package io.snakepit.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.contract.ExecuteRequest;
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

  /** The Python adapters shared with python-worker's own tests; a pool's {@code python-path}. */
  static final String TEST_ADAPTERS = Path.of("..", "python-worker", "tests", "sample_adapters")
      .toAbsolutePath().normalize().toString();

  /** An adapter that reports what a worker cannot show from outside, and misbehaves on request. */
  static final String SUPERVISION_ADAPTER = "supervision_adapter:SupervisionAdapter";

  /** Pool settings for {@link #SUPERVISION_ADAPTER}. */
  static JsonObject supervisionPool(int size) {
    return new JsonObject().put("size", size).put("adapter", SUPERVISION_ADAPTER).put("python-path", TEST_ADAPTERS);
  }

  final Vertx vertx;
  final Path dataDir;
  final ProcessSupervisorVerticle verticle = new ProcessSupervisorVerticle();
  String deploymentId;
  /** The worker pids seen before {@link #undeploy}, which {@link #close} checks are gone. */
  private List<Long> pidsAtUndeploy;

  SupervisorHarness() throws IOException {
    vertx = Vertx.builder().with(new VertxOptions().setPreferNativeTransport(true)).build();
    dataDir = Files.createTempDirectory("snakepit-test-");
  }

  /** A config with one pool named {@code default}, with the given pool settings. */
  JsonObject config(JsonObject pool) {
    return configWithPools(new JsonObject().put("default", pool));
  }

  /** A config with these pools ({@code {name: settings}}), in this order. */
  JsonObject configWithPools(JsonObject pools) {
    return new JsonObject().put("node-id", "test-node").put("data-dir", dataDir.toString()).put("pools", pools);
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

  /** The pool with this name, as {@code GET /v1/pools} shows it. */
  JsonObject pool(String name) {
    return onContext(() -> supervisor().pool(name).toJson().copy());
  }

  List<Long> readyPids() {
    return workers().stream().map(o -> (JsonObject) o).filter(w -> "ready".equals(w.getString("state")))
        .map(w -> w.getLong("pid")).toList();
  }

  /** Whether exactly one worker is ready and it is not process {@code pid} (a replacement is). */
  static boolean onlyReadyPidIsNot(SupervisorHarness h, long pid) {
    List<Long> ready = h.readyPids();
    return ready.size() == 1 && ready.get(0) != pid;
  }

  /** Ids of the ready workers of one pool. */
  List<String> readyIds(String pool) {
    return workers().stream().map(o -> (JsonObject) o)
        .filter(w -> pool.equals(w.getString("pool")) && "ready".equals(w.getString("state")))
        .map(w -> w.getString("id")).toList();
  }

  /** Executes and waits; failures are returned, not thrown, so tests can inspect them. */
  Future<JsonObject> execute(String tool, JsonObject args) {
    return supervisor().execute(new ExecuteRequest(null, tool, args, 0, null, "cid-test"));
  }

  Future<JsonObject> execute(String tool, JsonObject args, long timeoutMs) {
    return supervisor().execute(new ExecuteRequest(null, tool, args, timeoutMs, null, "cid-test"));
  }

  /** Executes on a named pool; {@code null} means the node's first pool. */
  Future<JsonObject> executeOn(String pool, String tool, JsonObject args) {
    return supervisor().execute(new ExecuteRequest(pool, tool, args, 0, null, "cid-test"));
  }

  /** A worker id without its incarnation: {@code default-0.1@m3x9k2fq} is {@code default-0.1}. */
  static String slotAndGeneration(String workerId) {
    return workerId.substring(0, workerId.indexOf('@'));
  }

  /** The run of the supervisor a worker id names: {@code default-0.1@m3x9k2fq} is {@code m3x9k2fq}. */
  static String incarnationOf(String workerId) {
    return workerId.substring(workerId.indexOf('@') + 1);
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

  private List<Long> pids() {
    return workers().stream().map(o -> ((JsonObject) o).getLong("pid")).filter(p -> p > 0).toList();
  }

  /** Stops the supervisor as a node's shutdown does: drain, then SHUTDOWN, SIGTERM, SIGKILL. */
  Future<Void> undeploy() {
    pidsAtUndeploy = pids();
    return vertx.undeploy(deploymentId);
  }

  @Override
  public void close() throws Exception {
    List<Long> pids = pidsAtUndeploy != null ? pidsAtUndeploy : verticle.supervisor() == null ? List.of() : pids();
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
