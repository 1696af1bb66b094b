package io.snakepit.events;

import io.snakepit.client.SnakepitClient;
import io.snakepit.routing.RoutingVerticle;
import io.snakepit.session.SessionStoreVerticle;
import io.snakepit.supervisor.ProcessSupervisorVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * One node's verticles (session storage, supervision with real Python workers,
 * routing when asked) on a fresh Vert.x, plus a {@link Follower}: a second
 * verticle that knows only the events address, as a user's application would.
 * Closing it stops everything and checks that no worker it saw start outlived it.
 */
final class EventNode implements AutoCloseable {

  static final Duration DEADLINE = Duration.ofSeconds(30);
  static final String NODE_ID = "events-node";

  /** Stands for a user's application: it follows {@code snakepit.events} through the client and nothing else. */
  static final class Follower extends VerticleBase {
    final List<JsonObject> events = new CopyOnWriteArrayList<>();
    SnakepitClient client;

    @Override
    public Future<?> start() {
      client = SnakepitClient.create(vertx);
      // Deployed once the subscription is in place, so that no event of the node is missed.
      return client.events(events::add).completion();
    }

    /** The first event of {@code type} that matches, once it has arrived. */
    JsonObject await(String type, Predicate<JsonObject> match) {
      eventually(type + " event", () -> find(type, match).isPresent());
      return find(type, match).orElseThrow();
    }

    Optional<JsonObject> find(String type, Predicate<JsonObject> match) {
      return events.stream().filter(e -> type.equals(e.getString("type")) && match.test(e)).findFirst();
    }

    List<JsonObject> all(String type) {
      return events.stream().filter(e -> type.equals(e.getString("type"))).toList();
    }
  }

  final Vertx vertx;
  final Path dataDir;
  /** A directory on the pool's python-path where tests write their adapter modules. */
  final Path modules;
  final Follower follower = new Follower();

  EventNode() throws IOException {
    vertx = Vertx.builder().with(new VertxOptions().setPreferNativeTransport(true)).build();
    dataDir = Files.createTempDirectory("snakepit-events-");
    modules = Files.createDirectory(dataDir.resolve("modules"));
    await(vertx.deployVerticle(follower));
  }

  /** Deploys the session-storage verticle with this {@code sessions} section (in-heap, not persisted). */
  EventNode sessions(JsonObject sessions) {
    JsonObject s = sessions.copy();
    s.put("memory", s.getJsonObject("memory", new JsonObject()).copy().put("persistence", false));
    await(vertx.deployVerticle(new SessionStoreVerticle(), new DeploymentOptions().setConfig(new JsonObject()
        .put("node-id", NODE_ID).put("sessions", s))));
    return this;
  }

  /** Deploys the supervisor with one pool, {@code default}, whose python-path is {@link #modules}. */
  EventNode pool(JsonObject pool) {
    JsonObject p = pool.copy().put("python-path", modules.toString()).put("drain-timeout-ms", 500)
        // A module that the test rewrites must be read afresh by the next worker, never from a stale .pyc.
        .put("env", new JsonObject().put("PYTHONDONTWRITEBYTECODE", "1"));
    await(vertx.deployVerticle(new ProcessSupervisorVerticle(), new DeploymentOptions().setConfig(new JsonObject()
        .put("node-id", NODE_ID).put("data-dir", dataDir.toString())
        .put("pools", new JsonObject().put("default", p)))));
    return this;
  }

  /** Deploys the routing verticle, which takes {@code snakepit.execute} (what the client sends to). */
  EventNode routing() {
    await(vertx.deployVerticle(new RoutingVerticle(), new DeploymentOptions()
        .setConfig(new JsonObject().put("node-id", NODE_ID))));
    return this;
  }

  /**
   * Writes {@code <modules>/<name>.py}. The file is replaced in one rename, so a
   * worker starting meanwhile reads the old module or the new one, never half of one.
   */
  void module(String name, String source) throws IOException {
    Path tmp = Files.writeString(modules.resolve(name + ".py.tmp"), source, StandardCharsets.UTF_8);
    Files.move(tmp, modules.resolve(name + ".py"), StandardCopyOption.ATOMIC_MOVE,
        StandardCopyOption.REPLACE_EXISTING);
  }

  static <T> T await(Future<T> f) {
    try {
      return f.toCompletionStage().toCompletableFuture().get(DEADLINE.toSeconds(), TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("future did not succeed: " + e, e);
    }
  }

  /** Polls until the condition holds, or fails at the deadline. */
  static void eventually(String what, BooleanSupplier condition) {
    long end = System.nanoTime() + DEADLINE.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > end) {
        throw new AssertionError("timed out waiting for: " + what);
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
  }

  static boolean alive(long pid) {
    return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
  }

  @Override
  public void close() throws Exception {
    // Every worker that ever became ready announced its pid in worker.started.
    List<Long> pids = follower.all("worker.started").stream().map(e -> e.getLong("pid")).toList();
    try {
      vertx.close().toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
      eventually("every worker ends with its node", () -> pids.stream().noneMatch(EventNode::alive));
    } finally {
      pids.forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
      try (Stream<Path> walk = Files.walk(dataDir)) {
        walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }
}
