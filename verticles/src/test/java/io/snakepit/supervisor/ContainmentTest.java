package io.snakepit.supervisor;

import static io.snakepit.supervisor.SupervisorHarness.alive;
import static io.snakepit.supervisor.SupervisorHarness.await;
import static io.snakepit.supervisor.SupervisorHarness.eventually;
import static io.snakepit.supervisor.SupervisorHarness.onlyReadyPidIsNot;
import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every process a tool starts, by every means a tool has, ends when its
 * worker ends: killed, stopped gracefully, or replaced; with workers forked
 * from the forkserver and spawned alike. Real processes throughout; the
 * node's own death (SIGKILL, SIGTERM) is in tests/ (NodeContainmentTest).
 */
class ContainmentTest {

  /** Starts one process by each escape route on the pool's only worker; returns route -> pid. */
  static Map<String, Long> startEscapees(SupervisorHarness h) {
    Map<String, Long> pids = new LinkedHashMap<>();
    for (String tool : List.of("start_fork", "start_subprocess", "start_multiprocessing")) {
      pids.put(tool, await(h.execute(tool, new JsonObject())).getLong("result"));
    }
    for (String tool : List.of("start_daemon", "start_shell_daemon")) {
      String pidFile = h.dataDir.resolve(tool + ".pid").toString();
      pids.put(tool, await(h.execute(tool, new JsonObject().put("pid_file", pidFile))).getLong("result"));
    }
    return pids;
  }

  static void assertAllEnd(Map<String, Long> pids, String after) {
    for (Map.Entry<String, Long> e : pids.entrySet()) {
      eventually("the process of " + e.getKey() + " (pid " + e.getValue() + ") ends after " + after,
          () -> !alive(e.getValue()));
    }
  }

  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void whatAToolStartsEndsWhenItsWorkerIsKilled(boolean forkserver) throws Exception {
    try (SupervisorHarness h = new SupervisorHarness()) {
      h.start(ForkserverTest.containmentPool(1).put("forkserver", forkserver));
      long worker = h.readyPids().get(0);
      Map<String, Long> pids = startEscapees(h);
      // Children that stay in the worker's process tree are alive while it runs.
      for (String route : List.of("start_fork", "start_subprocess", "start_multiprocessing", "start_shell_daemon")) {
        assertThat(alive(pids.get(route))).as(route).isTrue();
      }
      ProcessHandle.of(worker).ifPresent(ProcessHandle::destroyForcibly);
      assertAllEnd(pids, "SIGKILL of its worker");
      eventually("a new worker", () -> onlyReadyPidIsNot(h, worker));
    }
  }

  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void whatAToolStartsEndsWhenItsWorkerStopsGracefully(boolean forkserver) throws Exception {
    Map<String, Long> pids;
    try (SupervisorHarness h = new SupervisorHarness()) {
      h.start(ForkserverTest.containmentPool(1).put("forkserver", forkserver));
      pids = startEscapees(h);
      await(h.undeploy());
      assertAllEnd(pids, "the node's graceful stop");
    }
  }

  @Test
  void whatAToolStartsEndsWhenItsWorkerIsRecycled() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness()) {
      // max-requests: the sixth call (the last start_*) retires the worker once it is answered.
      h.start(ForkserverTest.containmentPool(1).put("max-requests", 5));
      long worker = h.readyPids().get(0);
      Map<String, Long> pids = startEscapees(h);
      eventually("the worker is recycled", () -> !alive(worker));
      assertAllEnd(pids, "its worker was recycled");
      assertThat(h.pool().getLong("recycles")).isEqualTo(1);
    }
  }

  @Test
  void withAPidsCgroupWhatAToolStartsEndsEvenWhenItsForkserverIsKilled() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness()) {
      h.start(ForkserverTest.containmentPool(1).put("max-processes", 64));
      long forkserver = h.pool().getJsonObject("forkserver").getLong("pid");
      Map<String, Long> pids = startEscapees(h);
      // Nothing in the pool is left to end them but the node, through the pool's cgroup.
      ProcessHandle.of(forkserver).ifPresent(ProcessHandle::destroyForcibly);
      assertAllEnd(pids, "SIGKILL of the forkserver");
      eventually("a new forkserver and worker", () -> h.readyPids().size() == 1
          && h.pool().getJsonObject("forkserver").getLong("pid", -1L) != forkserver);
    }
  }

  @Test
  void theOtherWorkersToolProcessesAreLeftAlone() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness()) {
      h.start(ForkserverTest.containmentPool(2).put("concurrency", 1));
      // One subprocess per worker: call until both workers have started one.
      Map<Long, Long> sleeperByWorker = new LinkedHashMap<>();
      for (int i = 0; i < 200 && sleeperByWorker.size() < 2; i++) {
        JsonObject r = await(h.execute("start_subprocess", new JsonObject()));
        long w = h.workers().stream().map(o -> (JsonObject) o).filter(o -> o.getString("id").equals(r.getString("worker")))
            .findFirst().orElseThrow().getLong("pid");
        sleeperByWorker.putIfAbsent(w, r.getLong("result"));
      }
      assertThat(sleeperByWorker).hasSize(2);
      List<Long> workers = new ArrayList<>(sleeperByWorker.keySet());
      ProcessHandle.of(workers.get(0)).ifPresent(ProcessHandle::destroyForcibly);
      long ended = sleeperByWorker.get(workers.get(0));
      eventually("the killed worker's subprocess ends", () -> !alive(ended));
      assertThat(alive(sleeperByWorker.get(workers.get(1)))).as("the other worker's subprocess").isTrue();
      assertThat(alive(workers.get(1))).isTrue();
    }
  }
}
