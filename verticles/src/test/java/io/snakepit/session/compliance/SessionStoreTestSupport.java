package io.snakepit.session.compliance;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.snakepit.session.HybridLogicalClock;
import io.snakepit.session.Session;
import io.snakepit.session.SessionLimits;
import io.snakepit.session.SessionSettings;
import io.snakepit.session.SessionStore;
import io.snakepit.session.Stamped;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What the compliance kit's tests stand on: a fresh {@link Vertx} per test,
 * fresh settings and stores (closed after the test), and helpers to await
 * futures, expect failures, poll with deadlines and run tasks concurrently.
 * Adapter authors can extend it for tests of their own adapter's specifics.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
public abstract class SessionStoreTestSupport {

  /** How long any single store operation may take before the test fails. */
  protected static final Duration AWAIT = Duration.ofSeconds(30);

  /** The node id of the settings the kit makes. */
  protected static final String NODE = "kit-node";

  protected Vertx vertx;
  private final List<SessionStore> stores = new ArrayList<>();
  private final List<Path> dirs = new ArrayList<>();
  private final List<ExecutorService> pools = new ArrayList<>();

  // ---- what an adapter supplies ----------------------------------------------------------------

  /**
   * Makes and opens a store of the adapter under test with these settings.
   * Called once or more per test, always with a fresh data directory.
   */
  protected abstract Future<SessionStore> newStore(Vertx vertx, SessionSettings settings) throws Exception;

  /** Closes a store the kit opened; override if the adapter needs more (or less). */
  protected Future<Void> closeStore(SessionStore store) {
    return store.close();
  }

  /** The Vert.x instance of a test; override for clustered adapters. */
  protected Vertx newVertx() {
    return Vertx.vertx();
  }

  // ---- settings --------------------------------------------------------------------------------

  /**
   * The limits most tests use: roomy, with the defaults' retry count and a
   * touch granularity of one second.
   */
  protected SessionLimits limits() {
    return limits(b -> b);
  }

  /** Test limits with some values changed. */
  protected static SessionLimits limits(UnaryOperator<LimitsBuilder> change) {
    return change.apply(new LimitsBuilder()).build();
  }

  /** Builds {@link SessionLimits} for tests, starting from roomy values. */
  public static final class LimitsBuilder {
    long maxSessions = 100_000;
    int maxVariables = 1_000;
    int maxValueBytes = 64 * 1024;
    int maxPrograms = 100;
    int maxProgramBytes = 256 * 1024;
    int maxMetadataBytes = 16 * 1024;
    int maxNameLength = 128;
    long defaultTtlMs = 600_000;
    long maxTtlMs = 3_600_000;
    int maxUpdateRetries = 16;
    long touchGranularityMs = 1_000;

    public LimitsBuilder maxSessions(long v) {
      maxSessions = v;
      return this;
    }

    public LimitsBuilder maxVariables(int v) {
      maxVariables = v;
      return this;
    }

    public LimitsBuilder maxValueBytes(int v) {
      maxValueBytes = v;
      return this;
    }

    public LimitsBuilder maxPrograms(int v) {
      maxPrograms = v;
      return this;
    }

    public LimitsBuilder maxProgramBytes(int v) {
      maxProgramBytes = v;
      return this;
    }

    public LimitsBuilder maxMetadataBytes(int v) {
      maxMetadataBytes = v;
      return this;
    }

    public LimitsBuilder maxUpdateRetries(int v) {
      maxUpdateRetries = v;
      return this;
    }

    public LimitsBuilder touchGranularityMs(long v) {
      touchGranularityMs = v;
      return this;
    }

    public SessionLimits build() {
      return new SessionLimits(maxSessions, maxVariables, maxValueBytes, maxPrograms, maxProgramBytes,
          maxMetadataBytes, maxNameLength, defaultTtlMs, maxTtlMs, maxUpdateRetries, touchGranularityMs);
    }
  }

  /** Fresh settings: a new clock, a fresh data directory, a quick sweep, tombstones kept for an hour. */
  protected SessionSettings settings(SessionLimits limits, long sweepIntervalMs) {
    return new SessionSettings(NODE, new HybridLogicalClock(), limits, newDataDir().toString(), sweepIntervalMs,
        3_600_000);
  }

  /** Opens a store with {@link #limits()}. */
  protected SessionStore open() {
    return open(limits());
  }

  protected SessionStore open(SessionLimits limits) {
    return open(settings(limits, 200));
  }

  /** Opens a store with these settings; the kit closes it after the test. */
  protected SessionStore open(SessionSettings settings) {
    SessionStore store;
    try {
      store = await(newStore(vertx, settings));
    } catch (Exception e) {
      throw new AssertionError("newStore failed", e);
    }
    assertThat(store).as("newStore's store").isNotNull();
    stores.add(store);
    return store;
  }

  /** Closes a store now (it will not be closed again after the test). */
  protected void close(SessionStore store) {
    stores.remove(store);
    await(closeStore(store));
  }

  protected Path newDataDir() {
    try {
      Path d = Files.createTempDirectory("snakepit-kit-");
      dirs.add(d);
      return d;
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  @BeforeEach
  void startVertx() {
    vertx = newVertx();
  }

  @AfterEach
  void closeEverything() throws Exception {
    pools.forEach(ExecutorService::shutdownNow);
    Throwable failure = null;
    for (SessionStore s : new ArrayList<>(stores)) {
      try {
        await(closeStore(s));
      } catch (Throwable t) {
        failure = failure == null ? t : failure;
      }
    }
    stores.clear();
    if (vertx != null) {
      vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
    for (Path d : dirs) {
      try (Stream<Path> walk = Files.walk(d)) {
        walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      } catch (IOException ignored) {
        // best effort
      }
    }
    if (failure != null) {
      throw new AssertionError("closing a store failed", failure);
    }
  }

  // ---- helpers ---------------------------------------------------------------------------------

  /** The result of a future, waiting at most {@link #AWAIT}; a failure is rethrown as it is. */
  protected static <T> T await(Future<T> future) {
    try {
      return future.toCompletionStage().toCompletableFuture().get(AWAIT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof RuntimeException re) {
        throw re;
      }
      if (c instanceof Error err) {
        throw err;
      }
      throw new RuntimeException(c);
    } catch (TimeoutException e) {
      throw new AssertionError("the future did not complete within " + AWAIT);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted");
    }
  }

  /** Asserts that a future fails with a {@link SnakepitException} of this code, and returns it. */
  protected static SnakepitException awaitFailure(Future<?> future, ErrorCode code) {
    Object result;
    try {
      result = await(future);
    } catch (SnakepitException e) {
      assertThat(e.errorCode()).as("error code of: %s", e.getMessage()).isEqualTo(code);
      return e;
    } catch (RuntimeException e) {
      throw new AssertionError("expected a SnakepitException " + code.code() + ", got " + e, e);
    }
    throw new AssertionError("expected a failure " + code.code() + ", got a result: " + result);
  }

  /** The code of a failure, or null for a success. */
  protected static ErrorCode outcome(Future<?> future) {
    try {
      await(future);
      return null;
    } catch (SnakepitException e) {
      return e.errorCode();
    }
  }

  /** Polls a condition until it holds or the deadline passes (then fails). */
  protected static void pollUntil(String what, Duration deadline, BooleanSupplier condition) {
    long end = System.nanoTime() + deadline.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > end) {
        fail("Not true within " + deadline + ": " + what);
      }
      pause(20);
    }
  }

  /** Paces a loop; never use it to wait for something to happen (poll with {@link #pollUntil}). */
  protected static void pause(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted");
    }
  }

  /** Runs tasks on their own threads, all starting together; returns their results in order. */
  protected <T> List<T> runConcurrently(List<Callable<T>> tasks) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(tasks.size());
    pools.add(pool);
    CyclicBarrier start = new CyclicBarrier(tasks.size());
    List<java.util.concurrent.Future<T>> futures = new ArrayList<>();
    for (Callable<T> t : tasks) {
      futures.add(pool.submit(() -> {
        start.await(30, TimeUnit.SECONDS);
        return t.call();
      }));
    }
    List<T> out = new ArrayList<>();
    for (java.util.concurrent.Future<T> f : futures) {
      try {
        out.add(f.get(90, TimeUnit.SECONDS));
      } catch (ExecutionException e) {
        throw new AssertionError("a concurrent task failed: " + e.getCause(), e.getCause());
      }
    }
    pool.shutdown();
    return out;
  }

  /** A session's content, without the access time that reads move: for "unchanged" checks. */
  protected static JsonObject content(Session s) {
    JsonObject j = s.toStorageJson();
    j.remove("accessed_at");
    return j;
  }

  /** JSON equality of two values (numbers compare by value whatever their Java type). */
  protected static void assertJsonEquals(Object actual, Object expected) {
    assertThat(new JsonArray().add(actual)).as("JSON value").isEqualTo(new JsonArray().add(expected));
  }

  protected static Stamped stamp(SessionStore store, Object value) {
    return Stamped.of(value, store.settings().clock().now(), store.settings().nodeId());
  }

  protected static int counter(Session s, String name) {
    Object v = s.variable(name);
    return v == null ? 0 : ((Number) v).intValue();
  }


  /** A thread pool that is shut down after the test. */
  protected ExecutorService newPool(int threads) {
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    pools.add(pool);
    return pool;
  }
}
