package io.snakepit.app;

import static org.assertj.core.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Prometheus's own checker, {@code promtool check metrics} (Debian package
 * {@code prometheus}; .ci/run installs it). Missing in CI ({@code CI=true}) is a
 * failure; missing on a developer's machine skips the check, loudly.
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
    String msg = "promtool is not installed: the /metrics exposition cannot be checked. Install Debian's "
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
      Process p = new ProcessBuilder(promtool.toString(), "check", "metrics").redirectInput(in.toFile())
          .redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        fail("promtool did not finish within 60 s");
      }
      return new Result(p.exitValue(), out);
    } finally {
      Files.deleteIfExists(in);
    }
  }
}
