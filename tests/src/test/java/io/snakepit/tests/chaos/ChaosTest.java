package io.snakepit.tests.chaos;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.tests.PrintNodeLogsOnFailure;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The chaos harness's fixed-seed run in {@code mvn verify}: three node JVMs
 * on loopback, eight clients recording a history, and a nemesis that kills,
 * freezes and drains nodes and kills and hangs workers; then every checker,
 * and the self-test over the history this run recorded (its planted
 * anomalies must all be found). The report, history and timeline stay in
 * {@code tests/target/chaos/ci-seed-N} for a failure to be read.
 *
 * <p>The long runs, partitions included, are {@code tests/chaos.sh}
 * (docs/cluster.md, "Chaos runs").
 */
@ExtendWith(PrintNodeLogsOnFailure.class)
class ChaosTest {

  static final long SEED = Long.getLong("snakepit.chaos.seed", 11);
  static final Duration DURATION = Duration.ofSeconds(Long.getLong("snakepit.chaos.seconds", 120));

  @Test
  void aRunOfKillsPausesDrainsAndWorkerFaultsKeepsEveryPromise() throws Exception {
    List<FaultKind> nemeses = FaultKind.parse("kill,pause,drain,worker");
    ChaosOptions o = ChaosOptions.defaults(SEED, DURATION, nemeses, Path.of("target", "chaos", "ci-seed-" + SEED));
    ChaosRun.Verdict v = new ChaosRun(o).run();
    Report.write(o.out(), o, v);
    String summary = Report.summary(o, v);
    System.out.println(summary);
    assertThat(v.history().faults()).as("the nemesis injected faults").isNotEmpty();
    assertThat(v.history().ops(Op::ok)).as("the clients were served").hasSizeGreaterThan(100);
    assertThat(v.valid()).as(summary + "\n" + java.nio.file.Files.readString(o.out().resolve("report.md")))
        .isTrue();

    List<SelfTest.Result> planted = SelfTest.run(new SelfTest.Case(v.history(), v.end()), v.facts(),
        o.convergenceBound().toMillis());
    assertThat(planted).as(SelfTest.table(planted)).allMatch(SelfTest.Result::passed);
  }
}
