package io.snakepit.tests.fuzz;

import java.nio.file.Path;
import java.time.Duration;

/**
 * {@code tests/fuzz.sh}: a seeded fuzz run from the command line. Prints a summary, writes it and the
 * node's log into {@code --out}; exits 0 when nothing was found, 1 when something was, 2 on a usage error.
 */
public final class FuzzMain {

  private FuzzMain() {
  }

  static final String USAGE = """
      usage: tests/fuzz.sh [--seed N] [--duration 60s] [--out DIR]
        --out   where summary.txt and node.log go (default target/fuzz/seed-N)
      """;

  public static void main(String[] args) throws Exception {
    long seed = 1;
    Duration duration = Duration.ofSeconds(60);
    Path out = null;
    try {
      for (int i = 0; i < args.length; i++) {
        switch (args[i]) {
          case "--seed" -> seed = Long.parseLong(args[++i]);
          case "--duration" -> duration = io.snakepit.tests.chaos.ChaosMain.parseDuration(args[++i]);
          case "--out" -> out = Path.of(args[++i]);
          case "-h", "--help" -> {
            System.out.print(USAGE);
            return;
          }
          default -> throw new IllegalArgumentException("unknown argument " + args[i]);
        }
      }
    } catch (RuntimeException e) {
      System.err.println(e.getMessage());
      System.err.print(USAGE);
      System.exit(2);
    }
    Path dir = out != null ? out : Path.of("target", "fuzz", "seed-" + seed);
    Findings findings = new FuzzRun(new FuzzRun.Options(seed, duration, dir, Path.of(".").toAbsolutePath()
        .normalize())).run();
    System.out.print(findings.summary());
    System.out.println("summary and node log in " + dir);
    System.exit(findings.clean() ? 0 : 1);
  }
}
