package io.snakepit.tests.chaos.check;

import io.snakepit.tests.chaos.FinalState;
import io.snakepit.tests.chaos.History;
import java.util.List;

/** No process outlives the run: every node JVM, worker, forkserver and what tools started has ended. */
final class ProcessChecker implements Checker {

  @Override
  public String name() {
    return "processes";
  }

  @Override
  public String promise() {
    return "no process the nodes started outlives them";
  }

  @Override
  public List<Anomaly> check(History history, FinalState end, RunFacts facts) {
    return end.leftBehind().stream().map(p -> new Anomaly(name(), "process-left-behind", "still alive after "
        + "the nodes stopped: " + p, List.<io.snakepit.tests.chaos.Op>of())).toList();
  }
}
