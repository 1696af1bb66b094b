package io.snakepit.tests.chaos.check;

import io.snakepit.tests.chaos.Fault;
import io.snakepit.tests.chaos.FinalState;
import io.snakepit.tests.chaos.History;
import io.snakepit.tests.chaos.Op;
import io.snakepit.tests.chaos.Op.Fn;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * One owner per session: two nodes never ran acknowledged calls of the same
 * session at the same time, by the intervals the workers report
 * ({@code hold}, on the machine's monotonic clock). The one exception is a
 * partition in available mode, until the cluster is whole again: each side
 * serves the sessions it holds until Hazelcast merges the sides.
 */
final class SingleOwnerChecker implements Checker {

  @Override
  public String name() {
    return "single-owner";
  }

  @Override
  public String promise() {
    return "no two nodes run acknowledged calls of one session at once (outside an AP-mode partition, until whole again)";
  }

  @Override
  public List<Anomaly> check(History history, FinalState end, RunFacts facts) {
    List<Anomaly> out = new ArrayList<>();
    List<Fault> partitions = history.faults().stream().filter(f -> f.kind().partition()).toList();
    Map<String, List<Op>> bySession = history.ops(o -> o.fn() == Fn.HOLD && o.ok() && o.extra() != null).stream()
        .collect(Collectors.groupingBy(Op::session, TreeMap::new, Collectors.toList()));
    bySession.forEach((session, holds) -> {
      List<Op> sorted = holds.stream().sorted(Comparator.comparingLong(SingleOwnerChecker::start)).toList();
      for (int i = 0; i < sorted.size(); i++) {
        Op a = sorted.get(i);
        for (int j = i + 1; j < sorted.size() && start(sorted.get(j)) < end(a); j++) {
          Op b = sorted.get(j);
          if (Objects.equals(a.ranOn(), b.ranOn())) {
            continue;
          }
          long from = start(b);
          long to = Math.min(end(a), end(b));
          if (facts.availableMode() && partitions.stream().anyMatch(p -> p.overlapsUntilSettled(from, to))) {
            continue;
          }
          out.add(new Anomaly(name(), "two-owners", String.format("%s ran on %s and on %s at once, for %.1f ms",
              session, a.ranOn(), b.ranOn(), (to - from) / 1e6), List.of(a, b)));
        }
      }
    });
    return out;
  }

  static long start(Op hold) {
    return hold.extra().getLong("start_ns");
  }

  static long end(Op hold) {
    return hold.extra().getLong("end_ns");
  }
}
