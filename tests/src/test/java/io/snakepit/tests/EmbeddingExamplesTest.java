package io.snakepit.tests;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.examples.embedded.EmbeddedExample;
import io.snakepit.examples.join.JoinClusterExample;
import io.snakepit.tests.harness.Cluster;
import io.snakepit.tests.harness.Poll;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The runnable examples of docs/embedding.md, each run as its own JVM, as a user would run it: with this build's
 * class path and none of Hazelcast's {@code --add-opens} flags (they are optional, see the doc). Each must exit 0
 * having printed the Python tool's answer, and leave no process and no file behind: its temp dir (where the node's
 * private run directory goes) is empty again, and no process names that dir any more.
 */
@ExtendWith(PrintNodeLogsOnFailure.class)
class EmbeddingExamplesTest {

  static final Duration DEADLINE = Duration.ofSeconds(120);

  @Test
  void theEmbeddedExampleRunsAToolOnItsOwnPythonWorkers(@TempDir Path dir) throws Exception {
    Path tmp = Files.createDirectories(dir.resolve("tmp"));
    Run run = runExample(EmbeddedExample.class, tmp, dir.resolve("data").toString());
    assertThat(run.exit).as(run.output).isZero();
    assertThat(run.output).contains("echo answered {\"greeting\":\"hello from the JVM\"} on node node-")
        .contains("(worker default-0.");
    assertNothingLeft(tmp);
  }

  @Test
  void theJoinExampleRunsAToolOnARunningClustersNode(@TempDir Path dir) throws Exception {
    try (Cluster c = new Cluster().start(2)) {
      Path tmp = Files.createDirectories(dir.resolve("tmp"));
      Run run = runExample(JoinClusterExample.class, tmp, String.join(",", c.members()), c.name());
      assertThat(run.exit).as(run.output).isZero();
      assertThat(run.output).contains("echo answered {\"greeting\":\"hello from a joined application\"} on node ");
      String node = run.output.replaceAll("(?s).*on node (\\S+) in session.*", "$1");
      assertThat(node).as(run.output).isIn(c.node(0).nodeId(), c.node(1).nodeId());
      // The application's member left; the nodes still serve one another.
      assertThat(Cluster.ring(c.node(0))).hasSize(2);
      assertNothingLeft(tmp);
    }
  }

  /** The output and exit status of one example run. */
  record Run(int exit, String output) {
  }

  /** Runs {@code main} of {@code example} in a JVM of its own, with {@code tmp} as its temp dir. */
  static Run runExample(Class<?> example, Path tmp, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Djava.io.tmpdir=" + tmp, "-cp", System.getProperty("java.class.path"), example.getName()));
    cmd.addAll(List.of(args));
    Path log = tmp.getParent().resolve(example.getSimpleName() + ".log");
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      if (!p.waitFor(DEADLINE.toSeconds(), TimeUnit.SECONDS)) {
        throw new AssertionError(example.getSimpleName() + " did not exit within " + DEADLINE + ":\n"
            + Files.readString(log, StandardCharsets.UTF_8));
      }
      return new Run(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
    } finally {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
    }
  }

  /** The example's temp dir is empty, and no process mentions it (the workers and forkservers ran from it). */
  static void assertNothingLeft(Path tmp) throws Exception {
    Poll.until("no process names " + tmp, DEADLINE, () -> processesNaming(tmp.toString()).isEmpty());
    try (Stream<Path> left = Files.list(tmp)) {
      // Hazelcast and Vert.x may leave empty caches of their own; the node's run directory must be gone.
      assertThat(left.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("snakepit-")))
          .as("run directories left in " + tmp).isEmpty();
    }
  }

  /** Pids of the processes whose command line or environment contains {@code text}. */
  static List<Long> processesNaming(String text) throws IOException {
    List<Long> found = new ArrayList<>();
    try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
      for (Path p : (Iterable<Path>) procs.filter(x -> x.getFileName().toString().matches("\\d+"))::iterator) {
        if (p.getFileName().toString().equals(Long.toString(ProcessHandle.current().pid()))) {
          continue;
        }
        for (String f : List.of("cmdline", "environ")) {
          try {
            if (new String(Files.readAllBytes(p.resolve(f)), StandardCharsets.UTF_8).contains(text)) {
              found.add(Long.parseLong(p.getFileName().toString()));
              break;
            }
          } catch (IOException | SecurityException e) {
            // Gone meanwhile, or not ours to read.
          }
        }
      }
    }
    return found;
  }
}
