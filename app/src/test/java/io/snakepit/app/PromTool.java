package io.snakepit.app;

import static org.assertj.core.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Prometheus's own checker, promtool (Debian package {@code prometheus}; .ci/run
 * installs it): {@code check metrics} for the /metrics exposition, {@code check rules},
 * {@code test rules} and {@code check config} for docker/prometheus. Missing in CI
 * ({@code CI=true}) is a failure; missing on a developer's machine skips the check, loudly.
 */
final class PromTool {

  /** What promtool said: its exit code (0 clean, 1 unparsable, 3 lint problems) and its output. */
  record Result(int exitCode, String output) {
  }

  static Path find() {
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(File.pathSeparator)) {
      Path p = Path.of(dir, "promtool");
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    String msg = "promtool is not installed: the /metrics exposition, the alert rules and the dashboard's "
        + "queries cannot be checked. Install Debian's "
        + "'prometheus' package (apt-get install -y prometheus), as .ci/run does.";
    if ("true".equalsIgnoreCase(System.getenv("CI"))) {
      fail(msg);
    }
    System.err.println("\n!!!!!!!! SKIPPED: " + msg + " !!!!!!!!\n");
    Assumptions.abort(msg);
    return null;
  }

  static Result check(Path promtool, String exposition) throws IOException, InterruptedException {
    Path in = Files.createTempFile("snakepit-metrics-", ".txt");
    try {
      Files.writeString(in, exposition, StandardCharsets.UTF_8);
      return run(new ProcessBuilder(promtool.toString(), "check", "metrics").redirectInput(in.toFile()));
    } finally {
      Files.deleteIfExists(in);
    }
  }

  /** Runs {@code promtool ARGS...} in {@code dir}, so that relative paths in its files resolve as they would there. */
  static Result run(Path promtool, Path dir, String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>();
    command.add(promtool.toString());
    command.addAll(List.of(args));
    return run(new ProcessBuilder(command).directory(dir.toFile()));
  }

  private static Result run(ProcessBuilder builder) throws IOException, InterruptedException {
    // Output goes to a file, not a pipe we read first: reading a pipe to its end would block past the deadline.
    Path out = Files.createTempFile("snakepit-promtool-", ".out");
    try {
      Process p = builder.redirectErrorStream(true).redirectOutput(out.toFile()).start();
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        fail("promtool did not finish within 60 s: " + builder.command());
      }
      return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(out);
    }
  }
}
