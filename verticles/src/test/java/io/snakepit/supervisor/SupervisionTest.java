package io.snakepit.supervisor;

import static io.snakepit.supervisor.SupervisorHarness.alive;
import static io.snakepit.supervisor.SupervisorHarness.await;
import static io.snakepit.supervisor.SupervisorHarness.awaitFailure;
import static io.snakepit.supervisor.SupervisorHarness.eventually;
import static io.snakepit.supervisor.SupervisorHarness.supervisionPool;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.snakepit.contract.Addresses;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** Crashes, hangs, recycling, degradation and graceful stop, with real processes and real signals. */
class SupervisionTest {

  private static JsonObject pool(int size) {
    return new JsonObject().put("size", size).put("backoff-min-ms", 50);
  }

  private static void signal(String sig, long pid) throws Exception {
    Process p = new ProcessBuilder("kill", "-" + sig, Long.toString(pid)).inheritIO().start();
    assertThat(p.waitFor()).isZero();
  }

  @Test
  void workerKilledMidCallFailsTheCallWithWorkerCrashedAndIsReplaced() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness().start(pool(1))) {
      List<JsonObject> events = new CopyOnWriteArrayList<>();
      h.vertx.eventBus().<JsonObject>consumer(Addresses.EVENTS, m -> events.add(m.body()));
      long pid = h.readyPids().get(0);
      Future<JsonObject> call = h.execute("sleep", new JsonObject().put("ms", 60_000), 60_000);
      eventually("the call runs", () -> h.workers().getJsonObject(0).getInteger("inflight") == 1);
      signal("KILL", pid);
      SnakepitException e = (SnakepitException) awaitFailure(call);
      assertThat(e.errorCode()).isEqualTo(ErrorCode.WORKER_CRASHED);
      assertThat(e.details().getString("stderr")).isNotNull();
      eventually("a replacement is ready", () -> h.readyPids().size() == 1 && !h.readyPids().contains(pid));
      assertThat(await(h.execute("echo", new JsonObject().put("ok", 1))).getJsonObject("result").getInteger("ok"))
          .isEqualTo(1);
      eventually("crash event published", () -> events.stream().anyMatch(ev -> "worker.crashed".equals(ev.getString("type"))));
    }
  }

  @Test
  void crashToolReportsTheWorkersLastStderrLines() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness().start(pool(1))) {
      SnakepitException e = (SnakepitException) awaitFailure(h.execute("crash",
          new JsonObject().put("message", "last words before dying")));
      assertThat(e.errorCode()).isEqualTo(ErrorCode.WORKER_CRASHED);
      assertThat(e.details().getString("stderr")).contains("last words before dying");
      eventually("a replacement is ready", () -> h.readyPids().size() == 1);
    }
  }

  @Test
  void hungWorkerIsDetectedByHeartbeatKilledAndReplaced() throws Exception {
    JsonObject cfg = pool(1).put("heartbeat-ms", 100).put("heartbeat-timeout-ms", 1_000);
    try (SupervisorHarness h = new SupervisorHarness().start(cfg)) {
      long pid = h.readyPids().get(0);
      Future<JsonObject> call = h.execute("sleep", new JsonObject().put("ms", 60_000), 60_000);
      eventually("the call runs", () -> h.workers().getJsonObject(0).getInteger("inflight") == 1);
      signal("STOP", pid);
      SnakepitException e = (SnakepitException) awaitFailure(call);
      assertThat(e.errorCode()).isEqualTo(ErrorCode.WORKER_CRASHED);
      assertThat(e.getMessage()).contains("heartbeat");
      eventually("the stopped process is gone", () -> !alive(pid));
      eventually("a replacement is ready", () -> h.readyPids().size() == 1 && !h.readyPids().contains(pid));
    }
  }

  @Test
  void adapterThatFailsAtImportDegradesThePoolInsteadOfLooping() throws Exception {
    JsonObject cfg = pool(1).put("adapter", "no_such_module_anywhere:Adapter").put("restart-max", 2)
        .put("backoff-max-ms", 60_000);
    try (SupervisorHarness h = new SupervisorHarness().start(cfg)) {
      eventually("the pool degrades", () -> h.pool().getBoolean("degraded"));
      SnakepitException e = (SnakepitException) awaitFailure(h.execute("echo", new JsonObject()));
      assertThat(e.errorCode()).isEqualTo(ErrorCode.POOL_DEGRADED);
      assertThat(h.pool().getLong("crashes")).isEqualTo(3);
    }
  }

  @Test
  void recyclesAWorkerAfterMaxRequests() throws Exception {
    JsonObject cfg = pool(1).put("max-requests", 3);
    try (SupervisorHarness h = new SupervisorHarness().start(cfg)) {
      long first = h.readyPids().get(0);
      for (int i = 0; i < 3; i++) {
        assertThat(await(h.execute("info", new JsonObject())).getJsonObject("result").getLong("pid")).isEqualTo(first);
      }
      eventually("the old worker retires", () -> !alive(first));
      JsonObject next = await(h.execute("info", new JsonObject()));
      assertThat(next.getJsonObject("result").getLong("pid")).isNotEqualTo(first);
      assertThat(h.pool().getLong("recycles")).isEqualTo(1);
      assertThat(h.pool().getLong("crashes")).isZero();
    }
  }

  @Test
  void recyclesAWorkerPastMaxRssAsTheOsMeasuresIt() throws Exception {
    assumeTrue(ProcessMemory.SUPPORTED, "the node reads RSS from /proc; elsewhere it trusts the worker's PONG");
    // The worker under-reports its RSS (4 KiB in every PONG): only the node's own reading can see it grow.
    JsonObject cfg = supervisionPool(1).put("max-rss-mb", 100).put("heartbeat-ms", 100)
        .put("env", new JsonObject().put("SUPERVISION_ADAPTER_FAKE_RSS", 4096));
    try (SupervisorHarness h = new SupervisorHarness().start(cfg)) {
      List<JsonObject> recycled = new CopyOnWriteArrayList<>();
      h.vertx.eventBus().<JsonObject>consumer(Addresses.EVENTS, m -> {
        if ("worker.recycled".equals(m.body().getString("type"))) {
          recycled.add(m.body());
        }
      });
      long first = h.readyPids().get(0);
      eventually("the node has read the worker's RSS from the OS",
          () -> h.workers().getJsonObject(0).getLong("rss_bytes") > 1 << 20);
      assertThat(h.workers().getJsonObject(0).getLong("rss_bytes")).isLessThan(100L << 20);
      assertThat(h.pool().getLong("recycles")).isZero();

      assertThat(await(h.execute("hold_memory", new JsonObject().put("mb", 200))).getInteger("result"))
          .isEqualTo(200);
      eventually("the worker is recycled for its RSS", () -> !recycled.isEmpty());
      assertThat(recycled.get(0).getLong("pid")).isEqualTo(first);
      assertThat(recycled.get(0).getString("reason")).contains("over max-rss-mb=100");
      // The node promises a recycle once the RSS it reads is over the limit, carrying that reading. The reading
      // may come while the tool is still allocating, so it is over 100 MiB, not necessarily 200.
      assertThat(recycled.get(0).getLong("rss_bytes")).isGreaterThan(100L << 20);
      eventually("the old one is gone", () -> !alive(first));
      eventually("a fresh one serves", () -> h.readyPids().size() == 1 && !h.readyPids().contains(first));
      assertThat(h.pool().getLong("crashes")).isZero();
    }
  }

  @Test
  void recyclesAWorkerPastMaxAge() throws Exception {
    JsonObject cfg = pool(1).put("max-age-s", 1).put("heartbeat-ms", 100);
    try (SupervisorHarness h = new SupervisorHarness().start(cfg)) {
      long first = h.readyPids().get(0);
      eventually("the worker is recycled for its age", () -> h.pool().getLong("recycles") >= 1);
      eventually("the old one is gone", () -> !alive(first));
      eventually("a young one serves", () -> h.readyPids().size() == 1);
      assertThat(h.pool().getLong("crashes")).isZero();
    }
  }

  @Test
  void gracefulStopLetsInFlightCallsFinish() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness().start(pool(1).put("drain-timeout-ms", 20_000))) {
      long pid = h.readyPids().get(0);
      Future<JsonObject> call = h.execute("sleep", new JsonObject().put("ms", 500), 60_000);
      eventually("the call runs", () -> h.workers().getJsonObject(0).getInteger("inflight") == 1);
      Future<Void> undeploy = h.undeploy();
      assertThat(await(call).getJsonObject("result").getInteger("slept_ms")).isEqualTo(500);
      await(undeploy);
      assertThat(alive(pid)).isFalse();
    }
  }

  @Test
  void leftoversOfAnEarlierRunAreEndedButNeverAnUnrelatedProcess() throws Exception {
    Path data = Files.createTempDirectory("snakepit-reap-");
    Process leftover = new ProcessBuilder("python3", "-c",
        "import time; print('up', flush=True); time.sleep(600)", "snakepit_worker").start();
    Process unrelated = new ProcessBuilder("sleep", "600").start();
    try {
      // A leftover of an earlier run has long been Python. Through a shim (pyenv's python3 is env, then bash,
      // then Python, all in one pid) the command line is unreadable for an instant at each exec, so wait for
      // Python to speak before the registry looks at it.
      assertThat(new java.io.BufferedReader(new java.io.InputStreamReader(leftover.getInputStream())).readLine())
          .isEqualTo("up");
      WorkerRegistry reg = new WorkerRegistry(data);
      reg.record("default-0.0", leftover.toHandle());
      // A record whose pid now belongs to another program, started at another time.
      Files.writeString(data.resolve("workers").resolve(unrelated.pid() + ".json"),
          new JsonObject().put("pid", unrelated.pid()).put("worker_id", "default-1.0")
              .put("start", "2001-01-01T00:00:00Z").encode());
      assertThat(reg.reapLeftovers()).isEqualTo(1);
      eventually("the leftover is ended", () -> !leftover.isAlive());
      assertThat(unrelated.isAlive()).isTrue();
      try (var files = Files.list(data.resolve("workers"))) {
        assertThat(files.count()).isZero();
      }
    } finally {
      leftover.destroyForcibly();
      unrelated.destroyForcibly();
      leftover.waitFor();
      unrelated.waitFor();
      deleteTree(data);
    }
  }

  @Test
  void theRunDirectoryOfAKilledRunIsRemovedAtTheNextStartAndNothingElse() throws Exception {
    // What a SIGKILLed node leaves under the temp dir: its run directory, named in its data dir.
    Path leftover = Files.createTempDirectory(RunDirectory.PREFIX + "killed-");
    Files.writeString(leftover.resolve("worker.sock"), "");
    Path notOurs = Files.createTempDirectory("not-a-run-dir-");
    try (SupervisorHarness h = new SupervisorHarness()) {
      RunDirectory.record(h.dataDir, notOurs);
      assertThat(RunDirectory.removeLeftover(h.dataDir)).isEmpty();
      assertThat(notOurs).isDirectory();

      RunDirectory.record(h.dataDir, leftover);
      h.start(pool(1));
      assertThat(leftover).doesNotExist();
      Path current = RunDirectory.recorded(h.dataDir).orElseThrow();
      assertThat(current).isDirectory().isNotEqualTo(leftover);
      await(h.undeploy());
      assertThat(current).doesNotExist();
    } finally {
      deleteTree(notOurs);
      if (Files.exists(leftover)) {
        deleteTree(leftover);
      }
    }
  }

  @Test
  void aStoreAnswerMetInAToolReachesTheCallerWithItsCodeAndThatTheToolRan() throws Exception {
    JsonObject funcs = new JsonObject().put("size", 1).put("adapter", "funcs_adapter")
        .put("python-path", SupervisorHarness.TEST_ADAPTERS);
    try (SupervisorHarness h = new SupervisorHarness().start(funcs)) {
      for (ErrorCode code : List.of(ErrorCode.NODE_LOST, ErrorCode.MINORITY_PARTITION, ErrorCode.NOT_OWNER,
          ErrorCode.STORE_UNAVAILABLE, ErrorCode.INTEGRITY_FAILED)) {
        h.onContext(() -> {
          h.supervisor().nodeCalls().register("test.answer", (args, worker) ->
              Future.failedFuture(new SnakepitException(code, "as the store answered")));
          return null;
        });
        SnakepitException e = SnakepitException.from(awaitFailure(
            h.execute("call_op", new JsonObject().put("op", "test.answer"))));
        assertThat(e.errorCode()).as(e.getMessage()).isEqualTo(code);
        assertThat(e.details().getBoolean(SnakepitException.DETAIL_TOOL_RAN)).as(code.code()).isTrue();
        if (code == ErrorCode.NODE_LOST) {
          // A write whose outcome is unknown: the caller must not take the call as failed and retry blindly.
          assertThat(e.details().getString("outcome")).isEqualTo("unknown");
        }
      }
    }
  }

  static void deleteTree(Path p) throws IOException {
    try (var walk = Files.walk(p)) {
      walk.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    }
  }
}
