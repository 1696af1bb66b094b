package io.snakepit.tests.chaos.check;

import io.snakepit.tests.chaos.FinalState;
import io.snakepit.tests.chaos.History;
import io.snakepit.tests.chaos.Op;
import io.snakepit.tests.chaos.Op.Fn;
import io.snakepit.tests.chaos.Op.Outcome;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Counters incremented by {@code incr} (read-modify-write) or {@code tally}
 * (a counter variable), each by one client, one increment at a time: an
 * increment sent after another one was acknowledged returns more (two that
 * both returned 13 mean one was lost, or one was applied twice); and a
 * counter ends between its acknowledged increments (and the highest value one
 * returned) and its attempted ones: acknowledged ≤ final ≤ attempted. In
 * available mode a counter variable's increment during a partition (until the
 * cluster is whole again) sees only its own side's increments and may return
 * less than one acknowledged on the other side; its final value must still
 * count every acknowledged increment.
 */
final class CounterChecker implements Checker {

  @Override
  public String name() {
    return "counters";
  }

  @Override
  public String promise() {
    return "acknowledged <= final <= attempted, and each acknowledged increment returns more than the last";
  }

  @Override
  public List<Anomaly> check(History history, FinalState end, RunFacts facts) {
    List<Anomaly> out = new ArrayList<>();
    List<io.snakepit.tests.chaos.Fault> partitions = history.faults().stream().filter(f -> f.kind().partition())
        .toList();
    Map<String, List<Op>> byCounter = history.ops(o -> o.fn() == Fn.INCR || o.fn() == Fn.TALLY).stream()
        .collect(Collectors.groupingBy(o -> o.session() + "/" + o.key(), TreeMap::new, Collectors.toList()));
    byCounter.forEach((counter, ops) -> {
      List<Op> acked = ops.stream().filter(Op::ok).toList();
      for (Op b : acked) {
        Op a = acked.stream().filter(o -> o.complete() < b.invoke()).max(Comparator.comparingLong(Op::number))
            .orElse(null);
        boolean sidesApart = facts.availableMode() && b.fn() == Fn.TALLY
            && partitions.stream().anyMatch(p -> a != null && p.overlapsUntilSettled(a.invoke(), b.complete()));
        if (a != null && b.number() <= a.number() && !sidesApart) {
          out.add(new Anomaly(name(), b.number() == a.number() ? "repeated-increment" : "counter-went-back",
              String.format("%s: the increment via %s returned %d, %s the one via %s, acknowledged before it was "
                  + "sent", counter, b.node(), b.number(), b.number() == a.number() ? "as did" : "less than",
                  a.node()), List.of(a, b)));
        }
      }
      JsonObject vars = end.sessions().get(ops.get(0).session());
      if (vars == null) {
        return;
      }
      long last = vars.getLong(ops.get(0).key(), 0L);
      long highest = acked.stream().mapToLong(Op::number).max().orElse(0);
      long attempted = ops.stream().filter(o -> o.outcome() != Outcome.FAIL).count();
      if (last < highest || last < acked.size()) {
        out.add(new Anomaly(name(), "lost-increment", String.format("%s ends at %d, but %d increments were "
            + "acknowledged, returning up to %d", counter, last, acked.size(), highest),
            acked.stream().filter(o -> o.number() > last).limit(3).toList()));
      } else if (last > attempted) {
        out.add(new Anomaly(name(), "extra-increment", String.format("%s ends at %d, more than the %d increments "
            + "that may have happened", counter, last, attempted), List.of()));
      }
    });
    return out;
  }
}
