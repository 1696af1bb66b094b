package io.snakepit.tests.bench;

import io.snakepit.contract.ExecuteRequest;
import io.snakepit.supervisor.ProcessSupervisor;
import io.snakepit.supervisor.ProcessSupervisorVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * Rolling code reload of a 16-worker pool (demo adapter) under a paced load
 * of calls (default 200 per second): the reload's duration and the calls
 * that failed during it, {@code -Druns=5} times. Run with
 * {@code tests/bench.sh workers -Donly=reload} (docs/benchmarks.md).
 */
final class ReloadBenchmark {

  private ReloadBenchmark() {
  }

  static void run(String python) throws Exception {
    int size = Integer.getInteger("size", 16);
    int rate = Integer.getInteger("rate", 200);
    int runs = Integer.getInteger("runs", 5);
    Vertx vertx = Vertx.builder().with(new VertxOptions().setPreferNativeTransport(true)).build();
    Path data = Files.createTempDirectory("snakepit-bench-reload-");
    try {
      ProcessSupervisorVerticle v = new ProcessSupervisorVerticle();
      JsonObject cfg = new JsonObject().put("node-id", "bench").put("data-dir", data.toString())
          .put("pools", new JsonObject().put("default", new JsonObject().put("size", size).put("python", python)));
      vertx.deployVerticle(v, new DeploymentOptions().setConfig(cfg)).await();
      ProcessSupervisor sup = v.supervisor();
      AtomicLong ok = new AtomicLong();
      AtomicLong failed = new AtomicLong();
      // Paced: a timer every 5 ms sends what is due, so the rate holds whatever the calls' latency.
      long startNanos = System.nanoTime();
      AtomicLong sent = new AtomicLong();
      long timer = vertx.setPeriodic(5, t -> {
        long due = (System.nanoTime() - startNanos) * rate / 1_000_000_000L;
        while (sent.get() < due) {
          sent.incrementAndGet();
          sup.execute(new ExecuteRequest(null, "add", new JsonObject().put("a", 1).put("b", 2), 0, null, null))
              .onComplete(ar -> (ar.succeeded() ? ok : failed).incrementAndGet());
        }
      });
      long[] durations = new long[runs];
      long failedDuring = 0;
      long callsDuring = 0;
      for (int i = 0; i < runs; i++) {
        long f0 = failed.get();
        long c0 = ok.get() + failed.get();
        long t0 = System.nanoTime();
        JsonObject r = sup.reload("default", null).toCompletionStage().toCompletableFuture().get();
        durations[i] = (System.nanoTime() - t0) / 1_000_000;
        failedDuring += failed.get() - f0;
        callsDuring += ok.get() + failed.get() - c0;
        System.err.println("reload " + (i + 1) + ": " + durations[i] + " ms, " + r.getJsonObject("reload").encode());
      }
      vertx.cancelTimer(timer);
      long[] sorted = durations.clone();
      Arrays.sort(sorted);
      System.out.println("| reload of a " + size + "-worker pool under " + rate + " calls/s | p50 ms | max ms | runs "
          + "| calls during the reloads | failed |");
      System.out.println("| --- | ---: | ---: | ---: | ---: | ---: |");
      System.out.printf("| batch %d, forkserver on | %d | %d | %d | %d | %d |%n", Math.max(1, size / 4),
          sorted[runs / 2], sorted[runs - 1], runs, callsDuring, failedDuring);
      System.out.println("total calls: " + (ok.get() + failed.get()) + ", failed: " + failed.get());
    } finally {
      vertx.close().await();
      try (Stream<Path> walk = Files.walk(data)) {
        walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }
}
