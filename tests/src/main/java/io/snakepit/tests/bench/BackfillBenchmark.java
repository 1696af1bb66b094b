package io.snakepit.tests.bench;

import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import io.snakepit.session.HybridLogicalClock;
import io.snakepit.session.Session;
import io.snakepit.session.SessionLimits;
import io.snakepit.session.SessionPage;
import io.snakepit.session.SessionSettings;
import io.snakepit.session.SessionStore;
import io.snakepit.session.hazelcast.HazelcastSessionStoreFactory;
import io.snakepit.session.memory.MemorySessionStoreFactory;
import io.snakepit.session.migration.StoreMigration;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * The "live migration: backfill" benchmark of docs/benchmarks.md (issue 16): a node's memory store (no
 * persistence) holding {@code -Dn} small sessions (a counter and a short string each) migrated to the hazelcast
 * adapter as the admin API does it ({@link StoreMigration#start}, then the status polled until the backfill is
 * done). The target's data lives in a Hazelcast data member in another JVM ({@link BenchHazelcastMember}, started
 * here and killed at the end); this JVM joins it as a lite member, which holds no partitions, and the target store
 * is opened on it through {@code instance-name}. So this JVM's heap holds the source's sessions and the backfill's
 * working set only: heap used after a full GC is taken before the backfill, at every 10% of its progress and after
 * it. The floor: the same sessions, listed page by page from the source, written into the (emptied) target map
 * with plain {@code merge} calls, 16 in flight, without the migration machinery. A warm-up of both paths on
 * {@code -Dwarmup} sessions comes first. Run with {@code tests/bench.sh backfill -Xmx4g}.
 *
 * <p>Properties: {@code -Dn=1000000 -Dwarmup=50000 -DmemberXmx=3g -Dfill.inflight=64 -Dlease.ms=20000} (the
 * target store's {@code fencing.lease-ms}).
 */
public final class BackfillBenchmark {

  private static final int PAGE = 500;
  private static final int INFLIGHT = 16;

  private BackfillBenchmark() {
  }

  /** Heap used after a full GC, at a point of the backfill. */
  private record HeapPoint(String label, long done, long usedBytes) {
  }

  public static void main(String[] args) throws Exception {
    int n = Integer.getInteger("n", 1_000_000);
    int warmup = Math.min(n, Integer.getInteger("warmup", 50_000));
    String memberXmx = System.getProperty("memberXmx", "3g");
    int fillInflight = Integer.getInteger("fill.inflight", 64);
    String clusterName = "snakepit-backfill-bench-" + UUID.randomUUID();
    int port = 32_000 + ThreadLocalRandom.current().nextInt(200) * 20;

    Process member = startMember(clusterName, port, memberXmx);
    Thread killMember = new Thread(member::destroyForcibly, "kill-bench-member");
    Runtime.getRuntime().addShutdownHook(killMember);
    Vertx vertx = null;
    HazelcastInstance lite = null;
    Path dataDir = Files.createTempDirectory("backfill-bench");
    List<AutoCloseable> toClose = new ArrayList<>();
    try {
      lite = Hazelcast.newHazelcastInstance(BenchHazelcastMember.config(clusterName, port, true));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (lite.getCluster().getMembers().size() < 2) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("the lite member did not join the data member");
        }
        Thread.sleep(50);
      }
      HazelcastInstance hz = lite;
      vertx = Vertx.vertx();
      Vertx vx = vertx;
      SessionLimits limits = SessionLimits.fromJson(new JsonObject().put("max-sessions", Math.max(1_000_000L,
          2L * n)), "sessions.limits");
      SessionSettings settings = new SessionSettings("bench-node", new HybridLogicalClock(), limits,
          dataDir.toString(), 60_000, 3_600_000);
      // The forced full GCs of the heap points stop this JVM for seconds on a loaded machine: past the default
      // ownership lease (2.5 s) the store refuses writes until the cluster confirms it, and the backfill's copies
      // in flight then fail. A lease of 20 s (under Hazelcast's 60 s failure detection) rides them out.
      JsonObject target = new JsonObject().put("instance-name", lite.getName()).put("backup-count", 0)
          .put("fencing", new JsonObject().put("lease-ms", Long.getLong("lease.ms", 20_000)));

      // The warm-up: a migration and a floor of the same kind on a few sessions, in stores of their own.
      if (warmup > 0) {
        System.err.printf("warm-up on %d sessions ...%n", warmup);
        Path wDir = Files.createTempDirectory("backfill-bench-warmup");
        SessionSettings ws = new SessionSettings("bench-warmup", new HybridLogicalClock(), limits, wDir.toString(),
            60_000, 3_600_000);
        StoreMigration w = StoreMigration.open(vx, "memory", ws, () -> new MemorySessionStoreFactory()
            .create(vx, ws, new JsonObject().put("persistence", false))).await();
        fill(vx, w.store(), "w-", warmup, fillInflight);
        w.start(new JsonObject().put("to", "hazelcast").put("settings", target.copy()
            .put("map-name", "bench-warmup"))).await();
        awaitBackfill(w, warmup, null);
        SessionStore wt = HazelcastSessionStoreFactory.create(vx, ws, target.copy().put("map-name",
            "bench-warmup-floor"), hz).await();
        floor(vx, w.store().source(), wt);
        w.close().await();
        w.store().close().await();
        wt.close().await();
        hz.getMap("bench-warmup").destroy();
        hz.getMap("bench-warmup-floor").destroy();
        deleteTree(wDir.toFile());
      }

      StoreMigration m = StoreMigration.open(vx, "memory", settings, () -> new MemorySessionStoreFactory()
          .create(vx, settings, new JsonObject().put("persistence", false))).await();
      System.err.printf("filling the memory store with %d sessions (%d in flight) ...%n", n, fillInflight);
      long f0 = System.nanoTime();
      fill(vx, m.store(), "s-", n, fillInflight);
      double fillS = (System.nanoTime() - f0) / 1e9;
      long sourceCount = m.store().count().await();
      System.err.printf("filled %d sessions in %.1f s%n", sourceCount, fillS);

      List<HeapPoint> heap = new ArrayList<>();
      heap.add(new HeapPoint("before the backfill", 0, usedAfterGc()));
      System.err.println("backfill ...");
      long[] gcNanos = {0};
      long t0 = System.nanoTime();
      m.start(new JsonObject().put("to", "hazelcast").put("settings", target.copy())).await();
      JsonObject done = awaitBackfill(m, n, (label, copied) -> {
        long g = System.nanoTime();
        heap.add(new HeapPoint(label, copied, usedAfterGc()));
        gcNanos[0] += System.nanoTime() - g;
      });
      double wallS = (System.nanoTime() - t0) / 1e9;
      heap.add(new HeapPoint("after the backfill", n, usedAfterGc()));
      JsonObject b = done.getJsonObject("backfill");
      double backfillS = (b.getLong("finished_at") - b.getLong("started_at")) / 1000.0;
      long targetSize = hz.getMap(HazelcastSessionStoreFactory.DEFAULT_MAP_NAME).size();

      // The floor: the same sessions merged into the emptied target map, 16 in flight, no migration machinery.
      hz.getMap(HazelcastSessionStoreFactory.DEFAULT_MAP_NAME).clear();
      SessionStore plain = HazelcastSessionStoreFactory.create(vx, settings, target.copy(), hz).await();
      System.err.println("floor: plain merges ...");
      long p0 = System.nanoTime();
      floor(vx, m.store().source(), plain);
      double floorS = (System.nanoTime() - p0) / 1e9;
      long floorSize = hz.getMap(HazelcastSessionStoreFactory.DEFAULT_MAP_NAME).size();

      print(n, fillS, b, backfillS, wallS, gcNanos[0] / 1e9, targetSize, floorS, floorSize, heap, memberXmx);
      plain.close().await();
      m.close().await();
      m.store().close().await();
    } finally {
      try {
        if (vertx != null) {
          vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
      } catch (Exception e) {
        System.err.println("closing Vert.x: " + e);
      }
      if (lite != null) {
        lite.getLifecycleService().terminate();
      }
      member.destroyForcibly();
      member.waitFor(30, TimeUnit.SECONDS);
      try {
        Runtime.getRuntime().removeShutdownHook(killMember);
      } catch (IllegalStateException ignored) {
        // shutting down already
      }
      deleteTree(dataDir.toFile());
    }
    System.exit(0);
  }

  /** The data member in a JVM of its own, with this JVM's java, classpath and module flags. */
  private static Process startMember(String clusterName, int port, String xmx) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (a.startsWith("--add-")) {
        cmd.add(a);
      }
    }
    cmd.add("-Xmx" + xmx);
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(BenchHazelcastMember.class.getName());
    cmd.add(clusterName);
    cmd.add(String.valueOf(port));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    String line;
    while ((line = out.readLine()) != null && !line.startsWith("READY")) {
      // its start-up log
    }
    if (line == null) {
      p.destroyForcibly();
      throw new IllegalStateException("the Hazelcast data member did not start (exit " + p.waitFor() + ")");
    }
    System.err.println("data member (pid " + p.pid() + ") " + line);
    Thread drain = new Thread(() -> {
      try {
        while (out.readLine() != null) {
          // its log, discarded
        }
      } catch (Exception ignored) {
        // gone
      }
    }, "bench-member-output");
    drain.setDaemon(true);
    drain.start();
    return p;
  }

  /**
   * {@code count} sessions, each with a counter and a short string, in batches of {@code inflight} (the memory
   * store completes at once, so {@link Pipelined}'s chaining would recurse).
   */
  private static void fill(Vertx vertx, SessionStore store, String prefix, int count, int inflight) {
    for (int from = 0; from < count; from += inflight) {
      List<Future<?>> batch = new ArrayList<>();
      for (int i = from; i < Math.min(count, from + inflight); i++) {
        String id = prefix + i;
        long v = i;
        batch.add(store.create(id, 3_600_000, null).compose(c -> store.increment(id, "count", v))
            .compose(x -> store.putVariable(id, "name", "user-" + v)));
      }
      Future.all(batch).await();
    }
  }

  /** Every session of {@code source}, page by page, merged into {@code target} with 16 in flight. */
  private static void floor(Vertx vertx, SessionStore source, SessionStore target) throws Exception {
    String cursor = null;
    do {
      SessionPage page = source.list(cursor, PAGE).await();
      List<Session> s = page.sessions();
      if (!s.isEmpty()) {
        Pipelined.run(vertx, s.size(), INFLIGHT, i -> target.merge(s.get(i)));
      }
      cursor = page.nextCursor();
    } while (cursor != null);
  }

  private interface AtTenth {
    void at(String label, long copied);
  }

  /** Polls the status until the backfill is done; {@code atTenth} at each 10% of the progress. */
  private static JsonObject awaitBackfill(StoreMigration m, long n, AtTenth atTenth) throws Exception {
    int next = 1;
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(60);
    while (true) {
      JsonObject st = m.status();
      JsonObject b = st.getJsonObject("backfill");
      if (b.getBoolean("done", false)) {
        if (b.getLong("failed", 0L) > 0) {
          System.err.println("the backfill failed to copy " + b.getLong("failed") + " sessions (see the log)");
        }
        return st;
      }
      long copied = b.getLong("copied", 0L) + b.getLong("gone", 0L) + b.getLong("failed", 0L);
      while (atTenth != null && next <= 9 && copied >= n * next / 10) {
        atTenth.at(next * 10 + "%", copied);
        next++;
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the backfill did not finish: " + st.encode());
      }
      Thread.sleep(20);
    }
  }

  private static long usedAfterGc() {
    var mx = ManagementFactory.getMemoryMXBean();
    mx.gc();
    mx.gc();
    return mx.getHeapMemoryUsage().getUsed();
  }

  private static double mb(long bytes) {
    return bytes / (1024.0 * 1024.0);
  }

  private static void print(int n, double fillS, JsonObject b, double backfillS, double wallS, double gcS,
                            long targetSize, double floorS, long floorSize, List<HeapPoint> heap,
                            String memberXmx) {
    double backfillRate = n / (backfillS - gcS);
    double floorRate = n / floorS;
    System.out.printf("%n%d sessions (a counter and a short string each) in a memory store (no persistence), "
            + "migrated to the hazelcast adapter: one data member in another JVM (-Xmx%s, backup count 0), this JVM "
            + "a lite member; JVM %s, -Xmx%d MB, %d cores; fill %.1f s%n%n", n, memberXmx,
        System.getProperty("java.version"), Runtime.getRuntime().maxMemory() / (1024 * 1024),
        Runtime.getRuntime().availableProcessors(), fillS);
    System.out.println("| copy | sessions | s | sessions/s |");
    System.out.println("| --- | ---: | ---: | ---: |");
    System.out.printf("| backfill (StoreMigration start, pages of %d, %d merges in flight), forced GCs excluded "
        + "| %d | %.1f | %.0f |%n", PAGE, INFLIGHT, b.getLong("copied"), backfillS - gcS, backfillRate);
    System.out.printf("| floor: plain merge into the target store, %d in flight | %d | %.1f | %.0f |%n", INFLIGHT,
        n, floorS, floorRate);
    System.out.printf("%nbackfill / floor: %.2f×; backfill started_at..finished_at %.1f s including %.1f s of "
            + "forced GCs (heap points), start to done %.1f s; copied %d, gone %d, failed %d; target map %d "
            + "entries after the backfill, %d after the floor%n%n", backfillRate / floorRate, backfillS, gcS, wallS,
        b.getLong("copied"), b.getLong("gone"), b.getLong("failed"), targetSize, floorSize);
    System.out.println("| point | copied | heap used after full GC, MB | vs before, MB |");
    System.out.println("| --- | ---: | ---: | ---: |");
    long before = heap.get(0).usedBytes();
    long max = before;
    for (HeapPoint h : heap) {
      max = Math.max(max, h.usedBytes());
      System.out.printf("| %s | %d | %.1f | %+.1f |%n", h.label(), h.done(), mb(h.usedBytes()),
          mb(h.usedBytes() - before));
    }
    System.out.printf("%nlargest heap-after-GC during and after the backfill: %+.1f MB over before (%.2f%%)%n",
        mb(max - before), 100.0 * (max - before) / before);
  }

  private static void deleteTree(File f) {
    File[] children = f.listFiles();
    if (children != null) {
      for (File c : children) {
        deleteTree(c);
      }
    }
    f.delete();
  }
}
