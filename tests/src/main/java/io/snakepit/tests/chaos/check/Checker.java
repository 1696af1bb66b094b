package io.snakepit.tests.chaos.check;

import io.snakepit.tests.chaos.FinalState;
import io.snakepit.tests.chaos.History;
import java.util.List;

/** Checks one promise of the cluster against a recorded history and the state it ended in. */
public interface Checker {

  /** A short name for the report, e.g. {@code registers}. */
  String name();

  /** What this checker holds the cluster to, in one line for the report. */
  String promise();

  /** The anomalies found; none when the history keeps the promise. */
  List<Anomaly> check(History history, FinalState end, RunFacts facts);

  /**
   * Every checker, as a run uses them.
   *
   * @param convergenceBoundMs the documented bound on convergence after a heal
   */
  static List<Checker> all(long convergenceBoundMs) {
    return List.of(new RegisterChecker(), new CounterChecker(), new SessionChecker(), new PythonStateChecker(),
        new SingleOwnerChecker(), new ErrorChecker(), new ConvergenceChecker(convergenceBoundMs),
        new ProcessChecker());
  }
}
