package io.snakepit.tests.chaos;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.snakepit.tests.LongRuns;
import io.snakepit.tests.PrintNodeLogsOnFailure;
import io.snakepit.tests.chaos.check.Anomaly;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
 * <p>Two kinds of anomaly the harness has found are not fixed yet, and are
 * printed here without failing the build ({@link #KNOWN_OPEN}): they come
 * from the hand-over of a session's ownership while Hazelcast migrates
 * partitions back to a node that has just returned (docs/cluster.md,
 * "Chaos runs", "What the chaos runs found"). Every other anomaly fails it. A second run, as root, adds
 * partitions and full disks in majority mode, where every counter anomaly fails it too
 * ({@link #PARTITION_KNOWN_OPEN}). The long runs, clock skew and bridge partitions included, are
 * {@code tests/chaos.sh}.
 */
@ExtendWith(PrintNodeLogsOnFailure.class)
class ChaosTest {

  static final long SEED = Long.getLong("snakepit.chaos.seed", 11);
  static final Duration DURATION = Duration.ofSeconds(Long.getLong("snakepit.chaos.seconds", 120));
  /**
   * In CI, convergence must happen, not within the documented 15 s: a slower machine is not a broken cluster.
   * {@code tests/chaos.sh} holds runs to the documented bound.
   */
  static final Duration CONVERGENCE_DEADLINE = Duration.ofSeconds(60);
  /** Anomalies found and not fixed yet, by checker: reported, not failed on (see the class comment). */
  static final Map<String, Set<String>> KNOWN_OPEN = Map.of(
      "single-owner", Set.of("two-owners"),
      "python-state", Set.of("lost-python-state"));
  /**
   * The partition run's known-open anomalies: those above only. Increments lost or repeated by a node cut off
   * from the majority were known open here until the lease had to hear from a majority and a write completed on
   * the primary's word stopped being acknowledged (docs/cluster.md, "Fencing", "Partial partitions").
   */
  static final Map<String, Set<String>> PARTITION_KNOWN_OPEN = KNOWN_OPEN;

  @Test
  void aRunOfKillsPausesDrainsAndWorkerFaultsKeepsEveryPromise() throws Exception {
    assumeTrue(LongRuns.enabled(), LongRuns.SKIPPED);
    List<FaultKind> nemeses = FaultKind.parse("kill,pause,drain,worker");
    ChaosOptions o = ChaosOptions.defaults(SEED, DURATION, nemeses, Path.of("target", "chaos", "ci-seed-" + SEED))
        .withConvergenceBound(CONVERGENCE_DEADLINE);
    check(o, KNOWN_OPEN);
  }

  /**
   * As root (CI is): each node in its own network namespace and on a disk of its own, in majority mode, with
   * one node isolated, the cluster halved and disks filled. Majority mode, since there the minority must run
   * nothing and read-modify-write counters must stay exact too (available mode's contract covers only counter
   * variables: {@code tests/chaos.sh --seed 3 --duration 90s --nemesis partition}); bridge partitions are left
   * to the long runs ({@code tests/chaos.sh --seed 11 --duration 100s --nemesis partition --majority};
   * docs/cluster.md, "Partial partitions"), which a single fixed seed here would not vary.
   */
  @Test
  void asRootAMajorityModeRunWithPartitionsAndFullDisksKeepsEveryPromise() throws Exception {
    assumeTrue("root".equals(System.getProperty("user.name")), "network namespaces and tmpfs mounts need root");
    assumeTrue(LongRuns.enabled(), LongRuns.SKIPPED);
    List<FaultKind> nemeses = FaultKind.parse("isolate,halves,full-disk");
    ChaosOptions o = ChaosOptions.defaults(SEED, Duration.ofSeconds(90), nemeses,
        Path.of("target", "chaos", "ci-partition-seed-" + SEED)).withConvergenceBound(CONVERGENCE_DEADLINE)
        .withMajority(true).withBackups(2);
    check(o, PARTITION_KNOWN_OPEN);
  }

  private static void check(ChaosOptions o, Map<String, Set<String>> knownOpen) throws Exception {
    ChaosRun.Verdict v = new ChaosRun(o).run();
    Report.write(o.out(), o, v);
    String summary = Report.summary(o, v);
    System.out.println(summary);
    assertThat(v.history().faults()).as("the nemesis injected faults").isNotEmpty();
    assertThat(v.history().ops(Op::ok)).as("the clients were served").hasSizeGreaterThan(100);
    List<String> failing = new ArrayList<>();
    v.anomalies().forEach((checker, found) -> {
      for (Anomaly a : found) {
        if (knownOpen.getOrDefault(checker, Set.of()).contains(a.kind())) {
          System.out.println("KNOWN OPEN " + checker + ": " + a.message());
        } else {
          failing.add(checker + ": " + a.message());
        }
      }
    });
    assertThat(failing).as(summary + "\n" + Files.readString(o.out().resolve("report.md"))).isEmpty();

    List<SelfTest.Result> planted = SelfTest.run(new SelfTest.Case(v.history(), v.end()), v.facts(),
        o.convergenceBound().toMillis());
    // The base row holds only without the known-open anomalies, which the assertion above has sorted out.
    assertThat(planted.stream().filter(r -> !r.checker().equals("all")).toList()).as(SelfTest.table(planted))
        .allMatch(SelfTest.Result::passed);
  }
}
