package io.snakepit.tests.harness;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One run of the {@code snakepit} command line in a JVM of its own, as an operator runs it: its exit code and
 * what it wrote on each stream.
 *
 * @param code its exit code
 * @param out  what it wrote on standard output
 * @param err  what it wrote on standard error
 */
public record CliProcess(int code, String out, String err) {

  /**
   * Runs {@code snakepit ARGS...} with {@code env} added to an environment without {@code SNAKEPIT_URL} and
   * {@code SNAKEPIT_TOKEN} (so that only what the test gives counts); {@link AssertionError} when it does not end
   * within {@code deadline}.
   */
  public static CliProcess run(Duration deadline, Map<String, String> env, String... args)
      throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), "io.snakepit.app.Main"));
    cmd.addAll(List.of(args));
    Path out = Files.createTempFile("snakepit-cli-", ".out");
    Path err = Files.createTempFile("snakepit-cli-", ".err");
    try {
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile())
          .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
      pb.environment().remove("SNAKEPIT_URL");
      pb.environment().remove("SNAKEPIT_TOKEN");
      pb.environment().putAll(env);
      Process p = pb.start();
      try {
        if (!p.waitFor(deadline.toSeconds(), TimeUnit.SECONDS)) {
          throw new AssertionError("the CLI did not finish within " + deadline);
        }
      } finally {
        p.destroyForcibly();
      }
      return new CliProcess(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
          Files.readString(err, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }
}
