package io.snakepit.tests.chaos;

import io.snakepit.tests.chaos.Op.Fn;
import io.snakepit.tests.chaos.check.Anomaly;
import io.snakepit.tests.chaos.check.Checker;
import io.snakepit.tests.chaos.check.RunFacts;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * One chaos run: a cluster of node JVMs, clients that record a history, a
 * nemesis that injures the cluster, then, once every fault is healed, the
 * state the nodes agree on, and the checkers' verdicts. Writes the history,
 * a report and a timeline to the run's output directory.
 */
public final class ChaosRun {

  private final ChaosOptions options;

  public ChaosRun(ChaosOptions options) {
    this.options = options;
  }

  /** What a run found: each checker's anomalies, by checker name, and where its files are. */
  public record Verdict(Map<String, List<Anomaly>> anomalies, History history, FinalState end, RunFacts facts) {

    public boolean valid() {
      return anomalies.values().stream().allMatch(List::isEmpty);
    }
  }

  /** Runs the cluster, the clients and the nemesis, then checks what they recorded. */
  public Verdict run() throws Exception {
    Files.createDirectories(options.out());
    History history = new History();
    List<String> args = new ArrayList<>(List.of("--adapter", "chaos_adapter:ChaosAdapter",
        "--set", "pools.default.python-path=" + options.adapters(),
        "--set", "sessions.hazelcast.backup-count=" + options.backups()));
    if (options.majority()) {
      args.addAll(List.of("--set", "partition-mode=majority", "--set", "cluster-size=" + options.nodes()));
    }
    FinalState end;
    try (ChaosCluster cluster = ChaosCluster.start(options.nodes(), options.namespaces(), options.disks(), args)) {
      Workload clients = new Workload(history, cluster, options.clients(), options.sessions(), options.seed(),
          options.opTimeout(), !options.majority());
      for (String s : clients.fixedSessions()) {
        Op created = clients.create(s, (s.hashCode() & 0x7fffffff) % options.nodes());
        if (!created.ok()) {
          throw new IllegalStateException("could not create session " + s + " before the run: " + created);
        }
        history.add(created);
      }
      cluster.awaitFormed();
      Nemesis nemesis = new Nemesis(cluster, history, options.nemeses(), options.seed(), options.faultHold(),
          options.quiet());
      history.origin(System.nanoTime());
      clients.start();
      try {
        nemesis.run(history.origin() + options.duration().toNanos());
        long left = history.origin() + options.duration().toNanos() - System.nanoTime();
        if (left > 0) {
          Thread.sleep(left / 1_000_000); // the clients run on, without faults, for the rest of the duration
        }
      } finally {
        clients.stop(options.opTimeout().plusSeconds(10));
      }
      long quiet = System.nanoTime();
      long healed = nemesis.lastHeal() == 0 ? quiet : nemesis.lastHeal();
      end = new Convergence(cluster, history, clients).await(healed, quiet, nemesis.lastWhole(),
          ChaosCluster.DEADLINE);
      List<String> leftBehind = cluster.stopAll(Duration.ofSeconds(30));
      cluster.saveLogs(options.out());
      end = new FinalState(end.sessions(), end.recalled(), end.convergedAfterMs(), end.converged(), leftBehind);
    }
    return check(history, end, new RunFacts(!options.majority()), options.convergenceBound().toMillis());
  }

  /** Runs every checker over a history. */
  public static Verdict check(History history, FinalState end, RunFacts facts, long convergenceBoundMs) {
    Map<String, List<Anomaly>> found = new LinkedHashMap<>();
    for (Checker c : Checker.all(convergenceBoundMs)) {
      found.put(c.name(), c.check(history, end, facts));
    }
    return new Verdict(found, history, end, facts);
  }

  /** Every session a history touched. */
  static TreeSet<String> sessionsOf(History history) {
    TreeSet<String> out = new TreeSet<>();
    history.ops().forEach(o -> out.add(o.session()));
    return out;
  }

  /** The sessions whose values converge is measured on: those every client shares or keeps state in. */
  static List<String> watched(History history) {
    return history.ops(o -> o.client().equals("setup") && o.fn() == Fn.CREATE).stream().map(Op::session).toList();
  }
}
