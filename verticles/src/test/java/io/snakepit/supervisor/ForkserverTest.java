package io.snakepit.supervisor;

import static io.snakepit.supervisor.SupervisorHarness.TEST_ADAPTERS;
import static io.snakepit.supervisor.SupervisorHarness.await;
import static io.snakepit.supervisor.SupervisorHarness.awaitFailure;
import static io.snakepit.supervisor.SupervisorHarness.eventually;
import static io.snakepit.supervisor.SupervisorHarness.onlyReadyPidIsNot;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.snakepit.config.ConfigException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * A pool's forkserver with real Python processes: the interpreter resolved
 * once, workers forked from it (and replaced by forks), the fallbacks to
 * spawning, and the configuration it refuses.
 */
class ForkserverTest {

  static final String CONTAINMENT = "containment_adapter:ContainmentAdapter";

  static JsonObject containmentPool(int size) {
    return new JsonObject().put("size", size).put("adapter", CONTAINMENT).put("python-path", TEST_ADAPTERS);
  }

  private static JsonObject call(SupervisorHarness h, String tool) {
    return await(h.execute(tool, new JsonObject())).getJsonObject("result");
  }

  @Test
  void theInterpreterIsResolvedOnceAndWorkersAreForksOfTheForkserver() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness()) {
      h.start(containmentPool(2).put("preload", new JsonArray().add("json").add("decimal")));
      JsonObject pool = h.pool();
      JsonObject python = pool.getJsonObject("python");
      String configured = System.getProperty("snakepit.python", "python3");
      assertThat(python.getString("configured")).isEqualTo(configured);
      // Whatever python3 is (a pyenv shim here), the pool runs the interpreter it resolves to.
      assertThat(Path.of(python.getString("resolved"))).isAbsolute();
      assertThat(python.getString("version")).matches("3\\.\\d+\\.\\d+.*");
      JsonObject forkserver = pool.getJsonObject("forkserver");
      assertThat(forkserver.getString("mode")).isEqualTo("fork");
      assertThat(forkserver.getJsonArray("preloaded")).containsExactly("json", "decimal");

      JsonObject me = call(h, "parent");
      assertThat(me.getString("executable")).isEqualTo(python.getString("resolved"));
      assertThat(me.getLong("ppid")).as("a worker's parent is the forkserver").isEqualTo(forkserver.getLong("pid"));
      assertThat(me.getLong("pgid")).as("each worker leads its own process group").isEqualTo(me.getLong("pid"));
      assertThat(await(h.execute("modules", new JsonObject().put("names", new JsonArray().add("decimal"))))
          .getJsonObject("result").getBoolean("decimal")).isTrue();

      // Forks do not share a random state.
      Set<Double> randoms = new HashSet<>();
      for (int i = 0; i < 20 && randoms.size() < 2; i++) {
        randoms.add(await(h.execute("random_value", new JsonObject())).getDouble("result"));
      }
      assertThat(randoms).hasSizeGreaterThan(1);
    }
  }

  @Test
  void aCrashedWorkerIsReplacedByAFork() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness()) {
      h.start(containmentPool(1));
      long forkserverPid = h.pool().getJsonObject("forkserver").getLong("pid");
      long first = h.readyPids().get(0);
      ProcessHandle.of(first).ifPresent(ProcessHandle::destroyForcibly);
      eventually("a new worker is ready", () -> onlyReadyPidIsNot(h, first));
      JsonObject me = call(h, "parent");
      assertThat(me.getLong("ppid")).isEqualTo(forkserverPid);
      assertThat(h.pool().getLong("crashes")).isEqualTo(1);
    }
  }

  @Test
  void forkserverOffSpawnsEachWorkerWithTheResolvedInterpreter() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness()) {
      h.start(containmentPool(1).put("forkserver", false));
      JsonObject forkserver = h.pool().getJsonObject("forkserver");
      assertThat(forkserver.getString("mode")).isEqualTo("spawn");
      assertThat(forkserver.getString("reason")).contains("off in the pool's configuration");
      JsonObject me = call(h, "parent");
      assertThat(me.getLong("ppid")).isEqualTo(forkserver.getLong("pid"));
      assertThat(me.getString("executable")).isEqualTo(h.pool().getJsonObject("python").getString("resolved"));
    }
  }

  @Test
  void anAdapterThatIsNotForkSafeIsSpawnedAndSetsUpInEachWorker() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness()) {
      h.start(new JsonObject().put("size", 1).put("adapter", "not_fork_safe_adapter:NotForkSafe")
          .put("python-path", TEST_ADAPTERS));
      JsonObject forkserver = h.pool().getJsonObject("forkserver");
      assertThat(forkserver.getString("mode")).isEqualTo("spawn");
      assertThat(forkserver.getString("reason")).contains("not fork-safe");
      JsonArray pids = await(h.execute("setup_pid_and_pid", new JsonObject())).getJsonArray("result");
      assertThat(pids.getLong(0)).as("setup() ran in the worker").isEqualTo(pids.getLong(1));
    }
  }

  @Test
  void anAdapterThatStartsThreadsAtImportIsSpawned() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness()) {
      h.start(new JsonObject().put("size", 1).put("adapter", "thread_at_import_adapter:ThreadAtImport")
          .put("python-path", TEST_ADAPTERS));
      JsonObject forkserver = h.pool().getJsonObject("forkserver");
      assertThat(forkserver.getString("mode")).isEqualTo("spawn");
      assertThat(forkserver.getString("reason")).contains("started threads").contains("started-at-import");
      // Spawned, the worker imported the adapter itself, so its thread runs there.
      assertThat(await(h.execute("threads", new JsonObject())).getJsonArray("result")).contains("started-at-import");
    }
  }

  @Test
  void setupRunsInEachForkedWorker() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness()) {
      // The supervision adapter's setup reads the environment; with the forkserver, it runs after the fork.
      h.start(SupervisorHarness.supervisionPool(2));
      assertThat(h.pool().getJsonObject("forkserver").getString("mode")).isEqualTo("fork");
      List<String> ids = h.readyIds("default");
      Set<String> seen = new HashSet<>();
      for (int i = 0; i < 40 && seen.size() < 2; i++) {
        seen.add(await(h.execute("environment", new JsonObject().put("names", new JsonArray().add("SNAKEPIT_WORKER_ID"))))
            .getJsonObject("result").getString("SNAKEPIT_WORKER_ID"));
      }
      assertThat(seen).containsExactlyInAnyOrderElementsOf(ids);
    }
  }

  @Test
  void badForkserverSettingsAreConfigurationErrorsNamingTheKey() throws Exception {
    assertThatThrownBy(() -> PoolConfig.fromJson("p", new JsonObject().put("preload", "numpy")))
        .isInstanceOf(ConfigException.class).hasMessageContaining("pools.p.preload must be a list");
    assertThatThrownBy(() -> PoolConfig.fromJson("p", new JsonObject().put("preload", new JsonArray().add("not a module"))))
        .isInstanceOf(ConfigException.class).hasMessageContaining("pools.p.preload");
    assertThatThrownBy(() -> PoolConfig.fromJson("p", new JsonObject().put("forkserver", "sometimes")))
        .isInstanceOf(ConfigException.class).hasMessageContaining("pools.p.forkserver must be true or false");
    assertThatThrownBy(() -> PoolConfig.fromJson("p", new JsonObject().put("max-memory-mb", 10)))
        .isInstanceOf(ConfigException.class).hasMessageContaining("pools.p.max-memory-mb");
    assertThatThrownBy(() -> PoolConfig.fromJson("p", new JsonObject().put("max-open-files", 3)))
        .isInstanceOf(ConfigException.class).hasMessageContaining("pools.p.max-open-files");
    assertThatThrownBy(() -> PoolConfig.fromJson("p", new JsonObject().put("max-processes", -1)))
        .isInstanceOf(ConfigException.class).hasMessageContaining("pools.p.max-processes");

    try (SupervisorHarness h = new SupervisorHarness()) {
      Throwable missing = awaitFailure(h.vertx.deployVerticle(h.verticle, new io.vertx.core.DeploymentOptions()
          .setConfig(h.config(new JsonObject().put("size", 1).put("python", "/nonexistent/python3")))));
      assertThat(missing).isInstanceOf(ConfigException.class)
          .hasMessageContaining("pools.default.python").hasMessageContaining("/nonexistent/python3");
    }
    try (SupervisorHarness h = new SupervisorHarness()) {
      Throwable preload = awaitFailure(h.vertx.deployVerticle(new ProcessSupervisorVerticle(),
          new io.vertx.core.DeploymentOptions().setConfig(h.config(new JsonObject().put("size", 1)
              .put("preload", new JsonArray().add("no_such_module_to_preload"))))));
      assertThat(preload).isInstanceOf(ConfigException.class).hasMessageContaining("pools.default")
          .hasMessageContaining("preload").hasMessageContaining("no_such_module_to_preload");
    }
  }

  @Test
  void aKilledForkserverTakesItsWorkersWithItAndIsStartedAgain() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness()) {
      h.start(containmentPool(1));
      long forkserverPid = h.pool().getJsonObject("forkserver").getLong("pid");
      long worker = h.readyPids().get(0);
      ProcessHandle.of(forkserverPid).ifPresent(ProcessHandle::destroyForcibly);
      eventually("the worker died with its forkserver", () -> !SupervisorHarness.alive(worker));
      eventually("a new forkserver and worker", () -> h.readyPids().size() == 1
          && h.pool().getJsonObject("forkserver").getLong("pid", -1L) != forkserverPid);
      JsonObject me = call(h, "parent");
      assertThat(me.getLong("ppid")).isEqualTo(h.pool().getJsonObject("forkserver").getLong("pid"));
    }
  }
}
