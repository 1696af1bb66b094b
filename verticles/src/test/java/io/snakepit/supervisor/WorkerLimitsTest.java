package io.snakepit.supervisor;

import static io.snakepit.supervisor.SupervisorHarness.alive;
import static io.snakepit.supervisor.SupervisorHarness.await;
import static io.snakepit.supervisor.SupervisorHarness.awaitFailure;
import static io.snakepit.supervisor.SupervisorHarness.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The pool's limits, enforced while a call runs: each breach fails the call
 * with {@code worker_limit_exceeded} naming the limit, the worker is
 * replaced, and the pool's other worker carries on. Real processes, a real
 * fork bomb (inside a pids cgroup).
 */
class WorkerLimitsTest {

  /** A pool of two workers with the containment adapter, fast heartbeats, and {@code limits}. */
  static JsonObject pool(JsonObject limits) {
    return ForkserverTest.containmentPool(2).put("heartbeat-ms", 100).put("heartbeat-timeout-ms", 20_000)
        .mergeIn(limits);
  }

  /** Runs the tool until it fails (it may land on either worker); returns the failure and the worker it hit. */
  static SnakepitException breach(SupervisorHarness h, String tool, JsonObject args, String limit) {
    List<Long> before = h.readyPids();
    Throwable t = awaitFailure(h.execute(tool, args));
    assertThat(t).isInstanceOf(SnakepitException.class);
    SnakepitException e = (SnakepitException) t;
    assertThat(e.errorCode()).as(e.getMessage()).isEqualTo(ErrorCode.WORKER_LIMIT_EXCEEDED);
    assertThat(e.details().getString("limit")).isEqualTo(limit);
    assertThat(e.getMessage()).contains(limit);
    assertThat(e.correlationId()).isEqualTo("cid-test");
    assertThat(e.details().getString("worker")).isNotNull();
    // The worker that breached is replaced; the other one carries on.
    eventually("the worker that breached " + limit + " is gone", () -> before.stream().filter(p -> !alive(p)).count() == 1);
    eventually("two ready workers again", () -> h.readyPids().size() == 2);
    long other = before.stream().filter(p -> alive(p)).findFirst().orElseThrow();
    assertThat(h.readyPids()).contains(other);
    assertThat(await(h.execute("pid", new JsonObject())).getLong("result")).isPositive();
    return e;
  }

  @Test
  void memoryPastMaxMemoryMbFailsTheCallDuringIt() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness()) {
      h.start(pool(new JsonObject().put("max-memory-mb", 300)));
      // Below the limit: fine.
      assertThat(await(h.execute("allocate", new JsonObject().put("mb", 50))).getInteger("result")).isEqualTo(50);
      SnakepitException e = breach(h, "allocate", new JsonObject().put("mb", 1024), WorkerLimits.MEMORY);
      assertThat(e.details().getString("type")).isEqualTo("MemoryError");
      assertThat(h.pool().getLong("limit_breaches")).isEqualTo(1);
      assertThat(h.pool().getLong("crashes")).isZero();
    }
  }

  @Test
  void openFilesPastMaxOpenFiles() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness()) {
      h.start(pool(new JsonObject().put("max-open-files", 128)));
      assertThat(await(h.execute("open_files", new JsonObject().put("n", 20))).getInteger("result")).isEqualTo(20);
      breach(h, "open_files", new JsonObject().put("n", 500), WorkerLimits.OPEN_FILES);
    }
  }

  @Test
  void cpuPastMaxCpuSecondsPerCall() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness()) {
      h.start(pool(new JsonObject().put("max-cpu-s-per-call", 1)));
      breach(h, "burn_cpu", new JsonObject().put("seconds", 120), WorkerLimits.CPU);
    }
  }

  @Test
  void aForkBombIsContainedByMaxProcesses() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness()) {
      h.start(pool(new JsonObject().put("max-processes", 20)));
      String cgroup = h.pool().getJsonObject("forkserver").getString("cgroup");
      assertThat(cgroup).as("the pool's pids cgroup").isNotNull();
      breach(h, "fork_bomb", new JsonObject().put("seconds", 120), WorkerLimits.PROCESSES);
      // Everything the bomb started is gone: the pool's cgroups hold the two workers and nothing else.
      eventually("only the workers are left in the pool's cgroups", () -> processesIn(Path.of(cgroup)) == 2);
    }
  }

  /** Processes in the worker cgroups under a pool's cgroup. */
  static long processesIn(Path poolCgroup) {
    try (Stream<Path> dirs = Files.list(poolCgroup)) {
      return dirs.filter(Files::isDirectory).mapToLong(d -> {
        try {
          return Files.readAllLines(d.resolve("cgroup.procs")).stream().filter(l -> !l.isBlank()).count();
        } catch (IOException e) {
          return 0;
        }
      }).sum();
    } catch (IOException e) {
      return -1;
    }
  }
}
