package io.snakepit.tests;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.tests.harness.Http;
import io.snakepit.tests.harness.NodeProcess;
import io.snakepit.tests.harness.Poll;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every process a tool starts, by each way of escaping (plain fork,
 * subprocess, multiprocessing, double fork with setsid, a shell's setsid
 * background job), ends with its node: after a graceful stop (SIGTERM) and
 * after SIGKILL of the node's JVM, with workers forked and spawned. The node
 * is a separate JVM; the processes are real.
 */
class NodeContainmentTest {

  static final Duration DEADLINE = Duration.ofSeconds(60);
  static final String ADAPTERS = Path.of("..", "python-worker", "tests", "sample_adapters").toAbsolutePath()
      .normalize().toString();
  Path dataDir;
  final List<Long> started = new ArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    dataDir = Files.createTempDirectory("snakepit-contain-");
  }

  @AfterEach
  void tearDown() throws Exception {
    for (long pid : started) {
      ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    }
    try (var walk = Files.walk(dataDir)) {
      walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  private long run(NodeProcess node, String tool, JsonObject args) throws Exception {
    HttpResponse<String> r = Http.post(node.baseUrl() + "/v1/execute",
        new JsonObject().put("tool", tool).put("args", args).encode());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    long pid = new JsonObject(r.body()).getLong("result");
    started.add(pid);
    return pid;
  }

  @ParameterizedTest(name = "{0}, forkserver {1}")
  @CsvSource({"KILL, true", "KILL, false", "TERM, true", "TERM, false"})
  void everyProcessAToolStartedEndsWithItsNode(String signal, boolean forkserver) throws Exception {
    Map<String, Long> pids = new LinkedHashMap<>();
    List<Long> python = new ArrayList<>();
    try (NodeProcess node = NodeProcess.start(dataDir, DEADLINE, "--pool-size", "1",
        "--adapter", "containment_adapter:ContainmentAdapter",
        "--set", "pools.default.python-path=" + ADAPTERS,
        "--set", "pools.default.forkserver=" + forkserver)) {
      for (String tool : List.of("start_fork", "start_subprocess", "start_multiprocessing")) {
        pids.put(tool, run(node, tool, new JsonObject()));
      }
      for (String tool : List.of("start_daemon", "start_shell_daemon")) {
        pids.put(tool, run(node, tool, new JsonObject().put("pid_file", dataDir.resolve(tool + ".pid").toString())));
      }
      JsonObject pool = Http.getJson(node.baseUrl() + "/v1/pools").getJsonArray("pools").getJsonObject(0);
      python.add(pool.getJsonObject("forkserver").getLong("pid"));
      Http.getJson(node.baseUrl() + "/v1/workers").getJsonArray("workers")
          .forEach(w -> python.add(((JsonObject) w).getLong("pid")));
      // While the worker runs, what it started runs too; but for start_daemon in fork mode: a fork (no exec)
      // that called setsid keeps nothing that names its worker, so the forkserver may end it once orphaned
      // (operations.md, "Containment").
      pids.entrySet().stream().filter(e -> !e.getKey().equals("start_daemon"))
          .forEach(e -> assertThat(Poll.alive(e.getValue())).as(e.getKey()).isTrue());
      node.signal(signal);
      node.process().waitFor();
    }
    for (Map.Entry<String, Long> e : pids.entrySet()) {
      Poll.until(e.getKey() + "'s process (pid " + e.getValue() + ") ends after SIG" + signal + " of the node",
          DEADLINE, () -> !Poll.alive(e.getValue()));
    }
    for (long pid : python) {
      Poll.until("Python process " + pid + " ends after SIG" + signal + " of the node", DEADLINE,
          () -> !Poll.alive(pid));
    }
  }
}
