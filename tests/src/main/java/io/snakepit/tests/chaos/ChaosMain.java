package io.snakepit.tests.chaos;

import io.snakepit.tests.chaos.check.RunFacts;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * {@code tests/chaos.sh}: a chaos run from the command line, or the
 * checkers' self-test. Exits 0 when the run is valid (or every planted
 * anomaly was reported), 1 when not, 2 on a usage error.
 */
public final class ChaosMain {

  private ChaosMain() {
  }

  static final String USAGE = """
      usage: tests/chaos.sh [--seed N] [--duration 60s] [--nemesis kill,pause,drain,worker,partition]
                            [--nodes 3] [--clients 8] [--sessions 4] [--majority] [--backups N]
                            [--out DIR]
             tests/chaos.sh --self-test [--history DIR/history.ndjson]
        --nemesis   any of kill, pause, drain, worker-kill, worker-hang (worker: both),
                    isolate, halves, bridge (partition: all three; root only: network namespaces),
                    full-disk (root only: a tmpfs per node), skew (a node's wall clock 5-60 s off;
                    needs libfaketime: apt-get install faketime)
        --out       where history.ndjson, report.md and timeline.svg go (default target/chaos/seed-N)
        --self-test plant known anomalies into a history (a recorded one, or a small written one)
                    and check that every checker reports its own
      """;

  public static void main(String[] args) throws Exception {
    long seed = 1;
    Duration duration = Duration.ofSeconds(60);
    String nemesis = "kill,pause,drain";
    int nodes = 3;
    int clients = 8;
    int sessions = 4;
    boolean majority = false;
    Integer backups = null;
    Path out = null;
    boolean selfTest = false;
    Path recorded = null;
    try {
      for (int i = 0; i < args.length; i++) {
        switch (args[i]) {
          case "--seed" -> seed = Long.parseLong(args[++i]);
          case "--duration" -> duration = parseDuration(args[++i]);
          case "--nemesis" -> nemesis = args[++i];
          case "--nodes" -> nodes = Integer.parseInt(args[++i]);
          case "--clients" -> clients = Integer.parseInt(args[++i]);
          case "--sessions" -> sessions = Integer.parseInt(args[++i]);
          case "--majority" -> majority = true;
          case "--backups" -> backups = Integer.parseInt(args[++i]);
          case "--out" -> out = Path.of(args[++i]);
          case "--self-test" -> selfTest = true;
          case "--history" -> recorded = Path.of(args[++i]);
          case "-h", "--help" -> {
            System.out.print(USAGE);
            return;
          }
          default -> throw new IllegalArgumentException("unknown argument " + args[i]);
        }
      }
    } catch (RuntimeException e) {
      System.err.println("chaos: " + e.getMessage() + "\n" + USAGE);
      System.exit(2);
    }
    if (selfTest) {
      SelfTest.Case clean = recorded == null ? SyntheticHistory.clean() : asCase(History.read(recorded));
      List<SelfTest.Result> results = SelfTest.run(clean, new RunFacts(true), 15_000);
      System.out.print(SelfTest.table(results));
      System.exit(results.stream().allMatch(SelfTest.Result::passed) ? 0 : 1);
    }
    List<FaultKind> kinds = FaultKind.parse(nemesis);
    if (kinds.contains(FaultKind.SKEW) && !ClockSkew.available()) {
      System.err.println("chaos: --nemesis skew needs libfaketime (apt-get install faketime): " + ClockSkew.LIBRARY
          + " is missing");
      System.exit(2);
    }
    if ((kinds.contains(FaultKind.FULL_DISK) || kinds.stream().anyMatch(FaultKind::partition))
        && !"root".equals(System.getProperty("user.name"))) {
      System.err.println("chaos: full-disk and partition faults need root (tmpfs mounts, network namespaces)");
      System.exit(2);
    }
    ChaosOptions o = ChaosOptions.defaults(seed, duration, kinds, out != null ? out
        : Path.of("target", "chaos", "seed-" + seed));
    o = o.withMajority(majority).withBackups(backups != null ? backups : o.namespaces() ? nodes - 1 : 1);
    o = o.withSize(nodes, clients, sessions);
    ChaosRun.Verdict v = new ChaosRun(o).run();
    Report.write(o.out(), o, v);
    System.out.print(Report.summary(o, v));
    System.out.println("history, report.md and timeline.svg: " + o.out().toAbsolutePath());
    System.exit(v.valid() ? 0 : 1);
  }

  private static SelfTest.Case asCase(History.Recorded r) {
    return new SelfTest.Case(r.history(), r.end());
  }

  /** {@code 90s}, {@code 3m}, {@code 500ms}, or plain seconds. */
  public static Duration parseDuration(String s) {
    if (s.endsWith("ms")) {
      return Duration.ofMillis(Long.parseLong(s.substring(0, s.length() - 2)));
    }
    if (s.endsWith("s")) {
      return Duration.ofSeconds(Long.parseLong(s.substring(0, s.length() - 1)));
    }
    if (s.endsWith("m")) {
      return Duration.ofMinutes(Long.parseLong(s.substring(0, s.length() - 1)));
    }
    return Duration.ofSeconds(Long.parseLong(s));
  }
}
