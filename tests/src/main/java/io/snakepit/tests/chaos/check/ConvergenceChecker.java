package io.snakepit.tests.chaos.check;

import io.snakepit.tests.chaos.FinalState;
import io.snakepit.tests.chaos.History;
import java.util.List;

/** After the last heal, every node answers the same for every session, within the documented bound. */
final class ConvergenceChecker implements Checker {

  private final long boundMs;

  ConvergenceChecker(long boundMs) {
    this.boundMs = boundMs;
  }

  @Override
  public String name() {
    return "convergence";
  }

  @Override
  public String promise() {
    return "whole again, and every node answers the same once writes stop, within " + boundMs / 1000.0
        + " s of the last heal";
  }

  @Override
  public List<Anomaly> check(History history, FinalState end, RunFacts facts) {
    if (!end.converged()) {
      return List.of(new Anomaly(name(), "diverged", "the nodes never answered the same for every session",
          List.of()));
    }
    if (end.convergedAfterMs() > boundMs) {
      return List.of(new Anomaly(name(), "slow-convergence", "the nodes answered the same only "
          + end.convergedAfterMs() + " ms after the last heal (bound " + boundMs + " ms)", List.of()));
    }
    return List.of();
  }
}
