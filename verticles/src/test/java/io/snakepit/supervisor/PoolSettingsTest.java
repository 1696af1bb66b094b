package io.snakepit.supervisor;

import static io.snakepit.supervisor.SupervisorHarness.await;
import static io.snakepit.supervisor.SupervisorHarness.awaitFailure;
import static io.snakepit.supervisor.SupervisorHarness.supervisionPool;
import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * What a pool's configuration does to its workers, seen from inside them:
 * named pools, environment, working directory, Python executable, and the
 * transport between node and workers. Real workers throughout.
 */
class PoolSettingsTest {

  @Test
  void callsPickTheirPoolByNameAndGoToTheFirstPoolWithoutOne() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness()) {
      // "main" comes first in the configuration though "extra" sorts before it.
      h.startWith(h.configWithPools(new JsonObject()
          .put("main", new JsonObject().put("size", 1))
          .put("extra", supervisionPool(2))));
      assertThat(h.pool("main").getInteger("ready")).isEqualTo(1);
      assertThat(h.pool("extra").getInteger("ready")).isEqualTo(2);
      assertThat(h.pool("extra").getString("adapter")).isEqualTo(SupervisorHarness.SUPERVISION_ADAPTER);

      assertThat(await(h.executeOn(null, "echo", new JsonObject().put("x", 1))).getString("worker"))
          .startsWith("main-");
      assertThat(await(h.executeOn("main", "echo", new JsonObject())).getString("worker")).startsWith("main-");
      assertThat(await(h.executeOn("extra", "where", new JsonObject())).getString("worker")).startsWith("extra-");
      // Each pool runs its own adapter.
      SnakepitException noEcho = (SnakepitException) awaitFailure(h.executeOn("extra", "echo", new JsonObject()));
      assertThat(noEcho.errorCode()).isEqualTo(ErrorCode.UNKNOWN_TOOL);
      SnakepitException noWhere = (SnakepitException) awaitFailure(h.executeOn(null, "where", new JsonObject()));
      assertThat(noWhere.errorCode()).isEqualTo(ErrorCode.UNKNOWN_TOOL);

      SnakepitException unknown = (SnakepitException) awaitFailure(h.executeOn("nope", "echo", new JsonObject()));
      assertThat(unknown.errorCode()).isEqualTo(ErrorCode.UNKNOWN_POOL);
      assertThat(unknown.getMessage()).contains("'nope'");
      assertThat(unknown.details().getJsonArray("pools")).isEqualTo(new JsonArray().add("main").add("extra"));
      assertThat(unknown.correlationId()).isEqualTo("cid-test");
    }
  }

  @Test
  void environmentWorkingDirectoryAndPythonReachTheWorker() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness()) {
      Path workDir = Files.createDirectories(h.dataDir.resolve("work dir"));
      // A link of its own, so the worker's sys.executable can only be this setting.
      Path python = Files.createSymbolicLink(h.dataDir.resolve("python-of-this-pool"), realPython());
      h.start(supervisionPool(1).put("python", python.toString()).put("working-dir", workDir.toString())
          .put("env", new JsonObject().put("POOL_TEXT", "two words").put("POOL_NUMBER", 7)));

      JsonObject where = await(h.execute("where", new JsonObject())).getJsonObject("result");
      assertThat(where.getString("cwd")).isEqualTo(workDir.toRealPath().toString());
      assertThat(where.getString("executable")).isEqualTo(python.toString());

      JsonObject env = await(h.execute("environment", new JsonObject().put("names",
          new JsonArray().add("POOL_TEXT").add("POOL_NUMBER").add("SNAKEPIT_WORKER_ID")))).getJsonObject("result");
      assertThat(env.getString("POOL_TEXT")).isEqualTo("two words");
      assertThat(env.getString("POOL_NUMBER")).isEqualTo("7");
      // The pool's variables come on top of the node's own, which still reach the worker.
      assertThat(env.getString("SNAKEPIT_WORKER_ID")).isEqualTo(h.workers().getJsonObject(0).getString("id"));
    }
  }

  @Test
  void tcpTransportRunsCallsOverLoopback() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness()) {
      h.startWith(h.config(new JsonObject().put("size", 1)).put("transport", "tcp"));
      String endpoint = h.supervisor().workerEndpoint();
      assertThat(endpoint).startsWith("tcp:127.0.0.1:");
      int port = Integer.parseInt(endpoint.substring(endpoint.lastIndexOf(':') + 1));
      assertThat(await(h.execute("add", new JsonObject().put("a", 40).put("b", 2))).getInteger("result"))
          .isEqualTo(42);
      long pid = h.readyPids().get(0);
      assertThat(tcpPeerPorts(pid)).as("the worker's TCP connections").contains(port);
    }
  }

  @Test
  void unixTransportListensInAPrivateRunDirectoryRemovedAtStop() throws Exception {
    Path runDir;
    try (SupervisorHarness h = new SupervisorHarness()) {
      h.startWith(h.config(new JsonObject().put("size", 1)).put("transport", "unix")
          .put("run-dir", h.dataDir.resolve("run").toString()));
      String endpoint = h.supervisor().workerEndpoint();
      assertThat(endpoint).startsWith("unix:");
      runDir = Path.of(endpoint.substring(5)).getParent();
      assertThat(runDir.getParent()).isEqualTo(h.dataDir.resolve("run"));
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(runDir))).isEqualTo("rwx------");
      assertThat(await(h.execute("add", new JsonObject().put("a", 1).put("b", 2))).getInteger("result"))
          .isEqualTo(3);
      assertThat(tcpPeerPorts(h.readyPids().get(0))).isEmpty();
      await(h.undeploy());
      assertThat(runDir).doesNotExist();
    }
  }

  /** The executable behind {@code snakepit.python}, which may be a wrapper (pyenv shim) rather than Python. */
  private static Path realPython() throws Exception {
    Process p = new ProcessBuilder(System.getProperty("snakepit.python", "python3"), "-c",
        "import sys; print(sys.executable)").redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes()).strip();
    assertThat(p.waitFor()).as(out).isZero();
    return Path.of(out);
  }

  /** Remote ports of the process's TCP connections, from its socket fds and the kernel's TCP tables. */
  private static Set<Integer> tcpPeerPorts(long pid) throws Exception {
    Set<String> inodes = new HashSet<>();
    try (var fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
      for (Path fd : (Iterable<Path>) fds::iterator) {
        try {
          String target = Files.readSymbolicLink(fd).toString();
          if (target.startsWith("socket:[")) {
            inodes.add(target.substring(8, target.length() - 1));
          }
        } catch (java.io.IOException closedMeanwhile) {
          // an fd closed while listing
        }
      }
    }
    Set<Integer> ports = new HashSet<>();
    for (String table : List.of("tcp", "tcp6")) {
      Path file = Path.of("/proc", Long.toString(pid), "net", table);
      if (!Files.exists(file)) {
        continue;
      }
      List<String> lines = Files.readAllLines(file);
      for (String line : lines.subList(1, lines.size())) {
        String[] f = line.trim().split("\\s+");
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
        if (inodes.contains(f[9])) {
          String rem = f[2];
          ports.add(Integer.parseInt(rem.substring(rem.indexOf(':') + 1), 16));
        }
      }
    }
    return ports;
  }
}
