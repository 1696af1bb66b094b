package io.snakepit.tests.bench;

import io.snakepit.contract.Addresses;
import io.snakepit.supervisor.ProcessSupervisorVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * The worker-start part of the worker benchmark (docs/benchmarks.md, issue
 * 11): a pool of 16 ready after deploy, with the forkserver and without; a
 * crashed worker replaced and ready; and the copy-on-write share of a
 * worker's RSS with numpy imported, forked from a forkserver that preloaded
 * it and spawned. Run alone with {@code tests/bench.sh workers -Donly=workers}.
 */
final class WorkerStartBenchmark {

  private WorkerStartBenchmark() {
  }

  static void run(String python, Path benchDir) throws Exception {
    Vertx vertx = Vertx.builder().with(new VertxOptions().setPreferNativeTransport(true)).build();
    Path data = Files.createTempDirectory("snakepit-bench-start-");
    try {
      System.out.println("| measurement (python = " + python + ") | p50 ms | max ms | n |");
      System.out.println("| --- | ---: | ---: | ---: |");
      for (boolean forkserver : new boolean[] {true, false}) {
        long[] starts = new long[5];
        long[] forkserverReady = new long[5];
        for (int i = 0; i < starts.length; i++) {
          AtomicLong firstReady = new AtomicLong();
          MessageConsumer<JsonObject> first = vertx.eventBus().consumer(Addresses.EVENTS, m -> {
            if ("worker.started".equals(m.body().getString("type"))) {
              firstReady.compareAndSet(0, System.nanoTime());
            }
          });
          first.completion().await();
          long t0 = System.nanoTime();
          ProcessSupervisorVerticle p = deploy(vertx, data, pool(python, 16, forkserver));
          starts[i] = System.nanoTime() - t0;
          forkserverReady[i] = firstReady.get() - t0;
          first.unregister().await();
          vertx.undeploy(p.deploymentID()).await();
        }
        row("pool of 16 ready after deploy, forkserver " + (forkserver ? "on (fork)" : "off (spawn)"), starts);
        if (forkserver) {
          row("  of which: deploy to the first worker ready (interpreter resolved, forkserver up)", forkserverReady);
        }
      }
      for (boolean forkserver : new boolean[] {true, false}) {
        row("crashed worker (SIGKILL) replaced and ready, forkserver " + (forkserver ? "on" : "off"),
            crashReplacement(vertx, data, pool(python, 4, forkserver), 30));
      }
      System.out.println();
      System.out.println("| a worker of a pool of 4 with numpy imported | RSS MiB | shared MiB | private MiB | shared share | PSS MiB |");
      System.out.println("| --- | ---: | ---: | ---: | ---: | ---: |");
      for (boolean forkserver : new boolean[] {true, false}) {
        JsonObject numpyPool = pool(python, 4, forkserver).put("adapter", "numpy_adapter")
            .put("python-path", benchDir.toAbsolutePath().toString())
            .put("preload", new JsonArray().add("numpy"));
        ProcessSupervisorVerticle p = deploy(vertx, data, numpyPool);
        CompletableFuture<Long> worker = new CompletableFuture<>();
        p.supervisor().context().runOnContext(v -> worker.complete(
            p.supervisor().workers().getJsonObject(1).getLong("pid")));
        long pid = worker.get(10, TimeUnit.SECONDS);
        long[] m = smapsRollup(pid);
        System.out.printf("| forkserver %s | %.1f | %.1f | %.1f | %.0f %% | %.1f |%n",
            forkserver ? "on (forked, numpy preloaded)" : "off (spawned, each imports numpy)",
            m[0] / 1024.0, m[1] / 1024.0, m[2] / 1024.0, 100.0 * m[1] / m[0], m[3] / 1024.0);
        vertx.undeploy(p.deploymentID()).await();
      }
    } finally {
      vertx.close().await();
      try (Stream<Path> walk = Files.walk(data)) {
        walk.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
  }

  private static JsonObject pool(String python, int size, boolean forkserver) {
    return new JsonObject().put("size", size).put("python", python).put("forkserver", forkserver);
  }

  private static ProcessSupervisorVerticle deploy(Vertx vertx, Path data, JsonObject pool) {
    ProcessSupervisorVerticle v = new ProcessSupervisorVerticle();
    JsonObject cfg = new JsonObject().put("node-id", "bench").put("data-dir", data.toString())
        .put("pools", new JsonObject().put("default", pool));
    vertx.deployVerticle(v, new DeploymentOptions().setConfig(cfg)).await();
    return v;
  }

  /** Kills a ready worker {@code rounds} times; each time, the nanos from the kill to its replacement's READY. */
  private static long[] crashReplacement(Vertx vertx, Path data, JsonObject pool, int rounds) throws Exception {
    ProcessSupervisorVerticle p = deploy(vertx, data, pool.put("restart-max", 1000));
    long[] out = new long[rounds];
    try {
      for (int i = 0; i < rounds; i++) {
        CompletableFuture<Long> ready = new CompletableFuture<>();
        MessageConsumer<JsonObject> c = vertx.eventBus().consumer(Addresses.EVENTS, m -> {
          if ("worker.started".equals(m.body().getString("type"))) {
            ready.complete(System.nanoTime());
          }
        });
        c.completion().await();
        CompletableFuture<Long> victim = new CompletableFuture<>();
        p.supervisor().context().runOnContext(v -> victim.complete(
            p.supervisor().workers().getJsonObject(0).getLong("pid")));
        long t0 = System.nanoTime();
        ProcessHandle.of(victim.get(10, TimeUnit.SECONDS)).orElseThrow().destroyForcibly();
        out[i] = ready.get(60, TimeUnit.SECONDS) - t0;
        c.unregister().await();
        // Let the pool settle (all four ready) before the next kill.
        while (!allReady(p)) {
          Thread.onSpinWait();
        }
      }
    } finally {
      vertx.undeploy(p.deploymentID()).await();
    }
    return out;
  }

  private static boolean allReady(ProcessSupervisorVerticle p) throws Exception {
    CompletableFuture<Boolean> f = new CompletableFuture<>();
    p.supervisor().context().runOnContext(v -> f.complete(p.supervisor().pools().getJsonObject(0).getInteger("ready")
        == p.supervisor().pools().getJsonObject(0).getInteger("size")));
    return f.get(10, TimeUnit.SECONDS);
  }

  private static void row(String name, long[] nanos) {
    Stats s = Stats.of(nanos);
    long max = 0;
    for (long x : nanos) {
      max = Math.max(max, x);
    }
    System.out.printf("| %s | %.1f | %.1f | %d |%n", name, s.p50() / 1000.0, max / 1e6, nanos.length);
  }

  /** Rss, Shared_Clean + Shared_Dirty, Private_Clean + Private_Dirty and Pss of a process, in KiB. */
  private static long[] smapsRollup(long pid) throws Exception {
    long rss = 0;
    long shared = 0;
    long priv = 0;
    long pss = 0;
    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "smaps_rollup"),
        StandardCharsets.ISO_8859_1)) {
      String[] f = line.split("\\s+");
      if (f.length < 2) {
        continue;
      }
      long kb;
      try {
        kb = Long.parseLong(f[1]);
      } catch (NumberFormatException e) {
        continue;
      }
      switch (f[0]) {
        case "Rss:" -> rss = kb;
        case "Pss:" -> pss = kb;
        case "Shared_Clean:", "Shared_Dirty:" -> shared += kb;
        case "Private_Clean:", "Private_Dirty:" -> priv += kb;
        default -> {
        }
      }
    }
    return new long[] {rss, shared, priv, pss};
  }
}
