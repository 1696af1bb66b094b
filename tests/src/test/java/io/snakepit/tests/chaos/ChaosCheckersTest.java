package io.snakepit.tests.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.tests.chaos.check.Anomaly;
import io.snakepit.tests.chaos.check.RunFacts;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The checkers without a cluster: a written history that keeps every promise
 * checks clean, each planted anomaly is reported by its own checker, and a
 * history survives its file.
 */
class ChaosCheckersTest {

  @Test
  void aCleanHistoryChecksClean() {
    SelfTest.Case clean = SyntheticHistory.clean();
    ChaosRun.Verdict v = ChaosRun.check(clean.history(), clean.end(), new RunFacts(true), 15_000);
    assertThat(v.anomalies()).allSatisfy((checker, found) -> assertThat(found).as(checker).isEmpty());
    assertThat(v.valid()).isTrue();
  }

  @Test
  void everyPlantedAnomalyIsReportedByItsChecker() {
    List<SelfTest.Result> results = SelfTest.run(SyntheticHistory.clean(), new RunFacts(true), 15_000);
    assertThat(results).hasSizeGreaterThanOrEqualTo(9);
    assertThat(results).allSatisfy(r -> assertThat(r.passed()).as(SelfTest.table(List.of(r))).isTrue());
  }

  @Test
  void twoOwnersDuringAnAvailableModePartitionAreAllowedButNotInMajorityMode() {
    SelfTest.Case twoOwners = SelfTest.twoOwners(SyntheticHistory.clean()).orElseThrow();
    History h = twoOwners.history();
    h.add(new Fault(FaultKind.ISOLATE, "n1|n2,n3", 0, SyntheticHistory.ms(1000)));
    assertThat(ChaosRun.check(h, twoOwners.end(), new RunFacts(true), 15_000).anomalies().get("single-owner"))
        .isEmpty();
    assertThat(ChaosRun.check(h, twoOwners.end(), new RunFacts(false), 15_000).anomalies().get("single-owner"))
        .isNotEmpty();
  }

  @Test
  void inAvailableModeAPartitionExcusesTwoOwnersAndLostStateUntilTheClusterIsWholeAgain() {
    // Healed at once, but whole again (the sides merged) only after every planted anomaly.
    Fault healedEarly = new Fault(FaultKind.ISOLATE, "n1|n2,n3", 0, 1, SyntheticHistory.ms(1000));
    SelfTest.Case twoOwners = SelfTest.twoOwners(SyntheticHistory.clean()).orElseThrow();
    SelfTest.Case forgot = SelfTest.forget(SyntheticHistory.clean()).orElseThrow();
    twoOwners.history().add(healedEarly);
    forgot.history().add(healedEarly);
    assertThat(ChaosRun.check(twoOwners.history(), twoOwners.end(), new RunFacts(true), 15_000).anomalies()
        .get("single-owner")).isEmpty();
    assertThat(ChaosRun.check(forgot.history(), forgot.end(), new RunFacts(true), 15_000).anomalies()
        .get("python-state")).isEmpty();
    // Majority mode's minority runs no call in a session, so nothing excuses them there after the heal.
    assertThat(ChaosRun.check(twoOwners.history(), twoOwners.end(), new RunFacts(false), 15_000).anomalies()
        .get("single-owner")).isNotEmpty();
    assertThat(ChaosRun.check(forgot.history(), forgot.end(), new RunFacts(false), 15_000).anomalies()
        .get("python-state")).isNotEmpty();
  }

  @Test
  void aCounterVariableMayReadLessAcrossAnAvailableModePartitionButMustCountEveryIncrement() {
    // n1 and n2 on different sides: the second increment does not see the first.
    History h = twoTallies(1L, "node-b");
    h.add(new Fault(FaultKind.ISOLATE, "n1|n2,n3", SyntheticHistory.ms(5), SyntheticHistory.ms(35),
        SyntheticHistory.ms(60)));
    FinalState merged = counterEndsAt(2L);
    assertThat(ChaosRun.check(h, merged, new RunFacts(true), 15_000).anomalies().get("counters")).isEmpty();
    assertThat(ChaosRun.check(h, merged, new RunFacts(false), 15_000).anomalies().get("counters"))
        .extracting(Anomaly::kind).containsExactly("repeated-increment");
    FinalState lost = counterEndsAt(1L);
    assertThat(ChaosRun.check(h, lost, new RunFacts(true), 15_000).anomalies().get("counters"))
        .extracting(Anomaly::kind).containsExactly("lost-increment");
  }

  @Test
  void aDoubledIncrementIsPlantedInCounterVariablesToo() {
    // Available mode's workload counts only with counter variables: the self-test must find one to plant in.
    History h = twoTallies(2L, "node-a");
    FinalState end = counterEndsAt(2L);
    assertThat(ChaosRun.check(h, end, new RunFacts(true), 15_000).anomalies().get("counters")).isEmpty();
    SelfTest.Case doubled = SelfTest.doubleIncrement(new SelfTest.Case(h, end)).orElseThrow();
    assertThat(ChaosRun.check(doubled.history(), doubled.end(), new RunFacts(true), 15_000).anomalies()
        .get("counters")).extracting(Anomaly::kind).contains("repeated-increment");
  }

  /**
   * Session chaos-0 created, then two acknowledged increments of its counter variable tk0 by client c0: via n1
   * (returning 1, on node-a), then via n2 (returning {@code second}, on {@code secondRanOn}).
   */
  private static History twoTallies(long second, String secondRanOn) {
    History h = new History();
    h.origin(0);
    h.add(SyntheticHistory.op("setup", Op.Fn.CREATE, "chaos-0", "", null, "n1", null, 0, 5, Op.Outcome.OK, null));
    h.add(SyntheticHistory.op("c0", Op.Fn.TALLY, "chaos-0", "tk0", 1L, "n1", "node-a", 10, 20, Op.Outcome.OK, null));
    h.add(SyntheticHistory.op("c0", Op.Fn.TALLY, "chaos-0", "tk0", second, "n2", secondRanOn, 30, 40, Op.Outcome.OK,
        null));
    return h;
  }

  /** The state a run with {@link #twoTallies} ends in: every node holds tk0 at {@code value}. */
  private static FinalState counterEndsAt(long value) {
    return new FinalState(Map.of("chaos-0", new JsonObject().put("tk0", value)), Map.of(), 100, true, List.of());
  }

  @Test
  void lostPythonStateIsExcusedOnlyByAFaultThatLosesIt() {
    SelfTest.Case forgot = SelfTest.forget(SyntheticHistory.clean()).orElseThrow();
    History drained = forgot.history().with(forgot.history().ops());
    drained.add(new Fault(FaultKind.DRAIN, "n2", SyntheticHistory.ms(21), SyntheticHistory.ms(29)));
    assertThat(ChaosRun.check(drained, forgot.end(), new RunFacts(true), 15_000).anomalies().get("python-state"))
        .as("a drain hands the state over").isNotEmpty();
    History killed = forgot.history().with(forgot.history().ops());
    killed.add(new Fault(FaultKind.KILL, "n2", SyntheticHistory.ms(21), SyntheticHistory.ms(29)));
    assertThat(ChaosRun.check(killed, forgot.end(), new RunFacts(true), 15_000).anomalies().get("python-state"))
        .as("a kill may lose it").isEmpty();
  }

  @Test
  void aHistoryReadsBackAsWritten(@TempDir Path dir) throws Exception {
    SelfTest.Case clean = SyntheticHistory.clean();
    clean.history().add(new Fault(FaultKind.PAUSE, "n3", SyntheticHistory.ms(5), SyntheticHistory.ms(9),
        SyntheticHistory.ms(12)));
    Path file = dir.resolve("history.ndjson");
    clean.history().write(file, clean.end());
    History.Recorded back = History.read(file);
    assertThat(back.history().ops()).isEqualTo(clean.history().ops());
    assertThat(back.history().faults()).isEqualTo(clean.history().faults());
    assertThat(back.end()).isEqualTo(clean.end());
    assertThat(Timeline.svg(back.history())).startsWith("<svg").contains("pause n3");
    assertThat(Files.size(file)).isPositive();
  }
}
