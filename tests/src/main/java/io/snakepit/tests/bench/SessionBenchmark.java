package io.snakepit.tests.bench;

import io.snakepit.session.HybridLogicalClock;
import io.snakepit.session.Session;
import io.snakepit.session.SessionLimits;
import io.snakepit.session.SessionSettings;
import io.snakepit.session.SessionStore;
import io.snakepit.session.SessionStoreClient;
import io.snakepit.session.SessionStoreVerticle;
import io.snakepit.session.memory.MemorySessionStoreFactory;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;
import java.util.stream.Stream;

/**
 * The session benchmark of docs/benchmarks.md: get, create and update through
 * the SPI in-process and over the local event bus, against a raw
 * ConcurrentHashMap (the floor), plus heap per small session with one million
 * sessions. Run with {@code tests/bench.sh sessions}; prints Markdown.
 */
public final class SessionBenchmark {

  private SessionBenchmark() {
  }

  public static void main(String[] args) throws Exception {
    int n = Integer.getInteger("n", 200_000);
    int sessions = Integer.getInteger("sessions", 1_000_000);
    Vertx vertx = Vertx.vertx();
    Path data = Files.createTempDirectory("snakepit-sbench-");
    try {
      System.out.println("| operation | floor: ConcurrentHashMap | SPI in-process (memory) | SPI in-process (memory, "
          + "persistent, durability commit) | over the local event bus |");
      System.out.println("| --- | ---: | ---: | ---: | ---: |");
      SessionStore mem = store(vertx, null, false);
      SessionStore disk = store(vertx, data.toString(), true);
      ConcurrentHashMap<String, Session> chm = new ConcurrentHashMap<>();
      for (int i = 0; i < 10_000; i++) {
        String id = "s" + i;
        chm.put(id, Session.create(id, System.currentTimeMillis(), 3_600_000));
        mem.create(id, 0, null).await();
        disk.create(id, 0, null).await();
      }
      String busDeployment = vertx.deployVerticle(new SessionStoreVerticle(), new DeploymentOptions()
          .setConfig(new JsonObject().put("node-id", "bench").put("sessions", new JsonObject()
              .put("memory", new JsonObject().put("persistence", false))))).await();
      SessionStoreClient bus = SessionStoreClient.local(vertx);
      for (int i = 0; i < 10_000; i++) {
        bus.create(new JsonObject().put("id", "s" + i)).await();
      }

      Stats chmGet = timeSync(n, i -> chm.get("s" + Math.floorMod(i, 10_000)));
      Stats memGet = timeAsync(vertx, n, i -> mem.get("s" + Math.floorMod(i, 10_000)));
      Stats diskGet = timeAsync(vertx, n, i -> disk.get("s" + Math.floorMod(i, 10_000)));
      Stats busGet = timeAsync(vertx, n, i -> bus.get("s" + Math.floorMod(i, 10_000)));
      row("get", chmGet, memGet, diskGet, busGet);

      Stats chmUpdate = timeSync(n, i -> chm.compute("s" + Math.floorMod(i, 10_000), (k, s) -> s.withTtl(3_600_000 + i)));
      Stats memUpdate = timeAsync(vertx, n, i -> mem.putVariable("s" + Math.floorMod(i, 10_000), "v", i));
      Stats diskUpdate = timeAsync(vertx, n / 10, i -> disk.putVariable("s" + Math.floorMod(i, 10_000), "v", i));
      Stats busUpdate = timeAsync(vertx, n, i -> bus.putVariable("s" + Math.floorMod(i, 10_000), "v", i));
      row("update (set a variable)", chmUpdate, memUpdate, diskUpdate, busUpdate);

      Stats chmCreate = timeSync(n, i -> chm.putIfAbsent("c" + i, Session.create("c" + i, 0, 3_600_000)));
      Stats memCreate = timeAsync(vertx, n, i -> mem.create("c" + i, 0, null));
      Stats diskCreate = timeAsync(vertx, n / 10, i -> disk.create("c" + i, 0, null));
      Stats busCreate = timeAsync(vertx, n, i -> bus.create(new JsonObject().put("id", "c" + i)));
      row("create", chmCreate, memCreate, diskCreate, busCreate);
      System.out.println();
      System.out.println("Cells: p50 / p99 in µs, one operation at a time. The persistent column waits for each "
          + "write's group commit, so its update and create show the commit cost.");
      vertx.undeploy(busDeployment).await();
      mem.close().await();
      disk.close().await();

      System.out.println();
      System.out.printf("Heap per small session (%,d sessions, memory adapter, one variable each): %.0f bytes%n",
          sessions, heapPerSession(vertx, sessions));
    } finally {
      vertx.close().await();
      try (Stream<Path> walk = Files.walk(data)) {
        walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  private static SessionStore store(Vertx vertx, String dataDir, boolean persistent) {
    SessionSettings settings = new SessionSettings("bench", new HybridLogicalClock(), SessionLimits.fromJson(
        new JsonObject().put("max-sessions", 10_000_000), "limits"), dataDir, 60_000, 3_600_000);
    return new MemorySessionStoreFactory().create(vertx, settings,
        new JsonObject().put("persistence", persistent)).await();
  }

  private static void row(String op, Stats chm, Stats mem, Stats disk, Stats bus) {
    System.out.printf("| %s | %s | %s | %s | %s |%n", op, cell(chm), cell(mem), cell(disk), cell(bus));
  }

  private static String cell(Stats s) {
    return String.format("%.2f / %.2f", s.p50(), s.p99());
  }

  private static Stats timeSync(int n, IntFunction<Object> op) {
    for (int i = -n; i < 0; i++) {
      op.apply(i);
    }
    long[] lat = new long[n];
    for (int i = 0; i < n; i++) {
      long t0 = System.nanoTime();
      op.apply(i);
      lat[i] = System.nanoTime() - t0;
    }
    return Stats.of(lat);
  }

  /** Chains operations one after another on an event loop, timing each from call to completion. */
  private static Stats timeAsync(Vertx vertx, int n, IntFunction<Future<?>> op) throws Exception {
    long[] lat = new long[n];
    Promise<Void> done = Promise.promise();
    vertx.runOnContext(v -> new Object() {
      int i = -Math.min(n, 20_000);

      // Iterative while futures complete at once (the in-process store), so the stack stays flat.
      void next() {
        while (i < n) {
          long t0 = System.nanoTime();
          // Warm-up indices are negative: creates use ids of their own, reads and updates wrap around.
          Future<?> f = op.apply(i);
          if (!f.isComplete()) {
            f.onComplete(ar -> {
              if (record(ar.failed() ? ar.cause() : null, t0)) {
                next();
              }
            });
            return;
          }
          if (!record(f.failed() ? f.cause() : null, t0)) {
            return;
          }
        }
        done.tryComplete();
      }

      boolean record(Throwable failure, long t0) {
        if (failure != null) {
          done.tryFail(failure);
          return false;
        }
        if (i >= 0) {
          lat[i] = System.nanoTime() - t0;
        }
        i++;
        return true;
      }
    }.next());
    done.future().toCompletionStage().toCompletableFuture().get(10, TimeUnit.MINUTES);
    return Stats.of(lat);
  }

  private static double heapPerSession(Vertx vertx, int count) throws Exception {
    SessionStore s = store(vertx, null, false);
    long before = usedAfterGc();
    // In chunks, so that the event loop is never held for long.
    for (int from = 0; from < count; from += 10_000) {
      int start = from;
      Promise<Void> chunk = Promise.promise();
      vertx.runOnContext(v -> {
        for (int i = start; i < Math.min(count, start + 10_000); i++) {
          String id = String.format("sess-%08d", i);
          s.create(id, 0, null);
          s.putVariable(id, "n", i);
        }
        chunk.complete();
      });
      chunk.future().toCompletionStage().toCompletableFuture().get(1, TimeUnit.MINUTES);
    }
    long after = usedAfterGc();
    if (s.count().await() != count) {
      throw new IllegalStateException("expected " + count + " sessions");
    }
    double per = (after - before) / (double) count;
    s.close().await();
    return per;
  }

  private static long usedAfterGc() throws InterruptedException {
    Runtime rt = Runtime.getRuntime();
    for (int i = 0; i < 5; i++) {
      System.gc();
      Thread.sleep(100);
    }
    return rt.totalMemory() - rt.freeMemory();
  }
}
