package io.snakepit.tests.chaos.check;

import io.snakepit.tests.chaos.Fault;
import io.snakepit.tests.chaos.FinalState;
import io.snakepit.tests.chaos.History;
import io.snakepit.tests.chaos.Op;
import io.snakepit.tests.chaos.Op.Fn;
import io.snakepit.tests.chaos.Op.Outcome;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Python-side state (what {@code remember} keeps in the session's worker):
 * {@code recall} returns the last acknowledged {@code remember}, or a later
 * one that may have taken effect. It may return an older value, or none, only
 * where docs/cluster.md allows a loss: a worker or node that crashed, was
 * frozen or cut off between that {@code remember} and the {@code recall}
 * (without checkpoints); in available mode, a partition until the cluster is
 * whole again, since each side serves its own copies until Hazelcast merges
 * them. A graceful drain, and the rebalancing that follows a node's return,
 * hand the state over: no loss there.
 */
final class PythonStateChecker implements Checker {

  @Override
  public String name() {
    return "python-state";
  }

  @Override
  public String promise() {
    return "recall gives the last remembered value, except across a crash, freeze or cut";
  }

  @Override
  public List<Anomaly> check(History history, FinalState end, RunFacts facts) {
    List<Anomaly> out = new ArrayList<>();
    List<Fault> faults = history.faults();
    Map<String, List<Op>> bySession = history.ops(o -> o.fn() == Fn.REMEMBER || o.fn() == Fn.RECALL).stream()
        .collect(Collectors.groupingBy(Op::session, TreeMap::new, Collectors.toList()));
    bySession.forEach((session, ops) -> {
      List<Op> remembers = ops.stream().filter(o -> o.fn() == Fn.REMEMBER).toList();
      for (Op recall : ops) {
        if (recall.fn() != Fn.RECALL || !recall.ok()) {
          continue;
        }
        Object got = RegisterChecker.number(recall.value());
        Op source = remembers.stream().filter(r -> r.outcome() != Outcome.FAIL && r.invoke() < recall.complete()
            && Objects.equals(RegisterChecker.number(r.value()), got)).reduce((a, b) -> b).orElse(null);
        if (got != null && source == null) {
          out.add(new Anomaly(name(), "recall-from-nowhere", session + ": recall returned " + got
              + ", which no remember sent", List.of(recall)));
          continue;
        }
        Op last = remembers.stream().filter(r -> r.ok() && r.complete() < recall.invoke())
            .max(Comparator.comparingLong(Op::complete)).orElse(null);
        if (last == null || (source != null && source.invoke() >= last.invoke())) {
          continue; // the last acknowledged value, or one sent after it
        }
        Fault excuse = faults.stream().filter(f -> f.kind().losesPythonState && (f.overlaps(last.complete(),
            recall.invoke()) || (facts.availableMode() && f.kind().partition()
            && f.overlapsUntilSettled(last.complete(), recall.invoke())))).findFirst().orElse(null);
        if (excuse == null) {
          out.add(new Anomaly(name(), "lost-python-state", String.format("%s: recall via %s (ran on %s) returned "
              + "%s, but %s was remembered (acknowledged via %s) before it, and no crash, freeze or cut came "
              + "between", session, recall.node(), recall.ranOn(), got, last.value(), last.node()),
              List.of(last, recall)));
        }
      }
    });
    return out;
  }
}
