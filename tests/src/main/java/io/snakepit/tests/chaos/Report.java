package io.snakepit.tests.chaos;

import io.snakepit.tests.chaos.Op.Fn;
import io.snakepit.tests.chaos.Op.Outcome;
import io.snakepit.tests.chaos.check.Anomaly;
import io.snakepit.tests.chaos.check.Checker;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * What a run prints and writes: a summary table (operations by function and
 * outcome, the faults, each checker's verdict), {@code report.md} with every
 * anomaly and its evidence, {@code history.ndjson} and {@code timeline.svg}.
 */
public final class Report {

  private Report() {
  }

  /** The summary table, as printed at the end of a run. */
  public static String summary(ChaosOptions o, ChaosRun.Verdict v) {
    StringBuilder b = new StringBuilder();
    b.append(String.format("chaos run: seed %d, %d s, nemesis %s, %d nodes, %d clients, %s mode%n", o.seed(),
        o.duration().toSeconds(), o.nemeses().stream().map(k -> k.name().toLowerCase()).collect(
            Collectors.joining(",")), o.nodes(), o.clients(), o.majority() ? "majority" : "available"));
    b.append(operations(v.history()));
    b.append(String.format("%nfaults: %d%n", v.history().faults().size()));
    for (Fault f : v.history().faults()) {
      b.append(String.format("  %-11s %-26s %7.1f s .. %7.1f s, whole at %7.1f s%n", f.kind(), f.nodes(),
          (f.start() - v.history().origin()) / 1e9, (f.end() - v.history().origin()) / 1e9,
          (f.settled() - v.history().origin()) / 1e9));
    }
    b.append(String.format("converged: %s%n", v.end().converged() ? v.end().convergedAfterMs()
        + " ms after the last heal" : "NO"));
    b.append(String.format("%n%-13s %-7s %s%n", "checker", "result", "promise"));
    for (Checker c : Checker.all(o.convergenceBound().toMillis())) {
      List<Anomaly> found = v.anomalies().getOrDefault(c.name(), List.of());
      b.append(String.format("%-13s %-7s %s%n", c.name(), found.isEmpty() ? "ok" : found.size() + " BAD",
          c.promise()));
    }
    b.append(v.valid() ? "\nVALID: no checker found an anomaly\n" : "\nINVALID: see report.md\n");
    return b.toString();
  }

  /** Operations by function: acknowledged, failed, unknown, and latency of the acknowledged ones. */
  static String operations(History h) {
    StringBuilder b = new StringBuilder(String.format("%-9s %7s %7s %7s %9s %9s%n", "operation", "ok", "fail",
        "unknown", "p50 ms", "p99 ms"));
    Map<Fn, List<Op>> byFn = h.ops().stream().collect(Collectors.groupingBy(Op::fn, () -> new EnumMap<>(Fn.class),
        Collectors.toList()));
    byFn.forEach((fn, ops) -> {
      Map<Outcome, Long> n = ops.stream().collect(Collectors.groupingBy(Op::outcome, Collectors.counting()));
      long[] ok = ops.stream().filter(Op::ok).mapToLong(op -> op.complete() - op.invoke()).sorted().toArray();
      b.append(String.format("%-9s %7d %7d %7d %9.2f %9.2f%n", fn.name().toLowerCase(), n.getOrDefault(Outcome.OK,
          0L), n.getOrDefault(Outcome.FAIL, 0L), n.getOrDefault(Outcome.UNKNOWN, 0L), pct(ok, 0.5), pct(ok, 0.99)));
    });
    Map<String, Long> codes = h.ops(o -> o.code() != null).stream().collect(Collectors.groupingBy(Op::code,
        TreeMap::new, Collectors.counting()));
    if (!codes.isEmpty()) {
      b.append("errors: ").append(codes.entrySet().stream().map(e -> e.getKey() + " " + e.getValue())
          .collect(Collectors.joining(", "))).append('\n');
    }
    return b.toString();
  }

  static double pct(long[] sorted, double p) {
    return sorted.length == 0 ? 0 : sorted[Math.min(sorted.length - 1, (int) (p * sorted.length))] / 1e6;
  }

  /** Writes the history, {@code report.md} and {@code timeline.svg} into {@code dir}. */
  public static void write(Path dir, ChaosOptions o, ChaosRun.Verdict v) throws IOException {
    Files.createDirectories(dir);
    v.history().write(dir.resolve("history.ndjson"), v.end());
    Files.writeString(dir.resolve("timeline.svg"), Timeline.svg(v.history()), StandardCharsets.UTF_8);
    StringBuilder md = new StringBuilder("# Chaos run\n\n```\n").append(summary(o, v)).append("```\n\n")
        .append("Reproduce: `tests/chaos.sh --seed ").append(o.seed()).append(" --duration ")
        .append(o.duration().toSeconds()).append("s --nemesis ").append(o.nemeses().stream()
            .map(k -> k.name().toLowerCase()).collect(Collectors.joining(","))).append(o.majority()
            ? " --majority" : "").append("`\n\n![timeline](timeline.svg)\n");
    v.anomalies().forEach((checker, found) -> {
      if (found.isEmpty()) {
        return;
      }
      md.append("\n## ").append(checker).append(": ").append(found.size()).append(" anomalies\n\n");
      found.stream().limit(50).forEach(a -> {
        md.append("- **").append(a.kind()).append("**: ").append(a.message()).append('\n');
        a.evidence().forEach(op -> md.append("  - `").append(describe(v.history(), op)).append("`\n"));
      });
    });
    Files.writeString(dir.resolve("report.md"), md.toString(), StandardCharsets.UTF_8);
  }

  /** One operation in a line, with times from the run's start. */
  public static String describe(History h, Op op) {
    return String.format("%s %s %s/%s value=%s via %s ran_on=%s [%.3f s .. %.3f s] %s%s cid=%s", op.client(),
        op.fn(), op.session(), op.key(), op.value(), op.node(), op.ranOn(), (op.invoke() - h.origin()) / 1e9,
        (op.complete() - h.origin()) / 1e9, op.outcome(), op.code() == null ? "" : " " + op.code(),
        op.correlationId());
  }
}
