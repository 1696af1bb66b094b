package io.snakepit.tests.chaos;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Injures the cluster, one fault at a time, drawn at random from the enabled
 * kinds with the run's seed: a fault, a while in it, its heal, then a wait
 * until the cluster is whole and safe again (as an operator waits before
 * taking the next node down; docs/cluster.md), then a quiet spell. Records
 * every fault in the history.
 */
final class Nemesis {

  private final ChaosCluster cluster;
  private final History history;
  private final List<FaultKind> kinds;
  private final Random random;
  /** How long a fault lasts: long enough for the failure detector (5 s) to act. */
  private final Duration hold;
  private final Duration quiet;
  private volatile long lastHeal;
  private volatile long lastWhole;

  Nemesis(ChaosCluster cluster, History history, List<FaultKind> kinds, long seed, Duration hold, Duration quiet) {
    this.cluster = cluster;
    this.history = history;
    this.kinds = List.copyOf(kinds);
    this.random = new Random(seed ^ 0x5DEECE66DL);
    this.hold = hold;
    this.quiet = quiet;
  }

  /** When the cluster was whole again after the last fault ({@link System#nanoTime()}), or 0 if there was none. */
  long lastWhole() {
    return lastWhole;
  }

  /** When the last fault was healed ({@link System#nanoTime()}), or 0 if there was none. */
  long lastHeal() {
    return lastHeal;
  }

  /** Injects faults until {@code until} ({@link System#nanoTime()}); returns once the last one is healed. */
  void run(long until) throws Exception {
    if (kinds.isEmpty()) {
      return;
    }
    while (System.nanoTime() + hold.toNanos() < until) {
      pause(quiet.toMillis() / 2 + random.nextInt((int) Math.max(1, quiet.toMillis())));
      if (System.nanoTime() + hold.toNanos() >= until) {
        break;
      }
      Fault f = inject(kinds.get(random.nextInt(kinds.size())));
      // The next fault waits for a whole cluster: two faults at once may lose what one may not.
      cluster.awaitFormed(ChaosCluster.DEADLINE);
      lastWhole = System.nanoTime();
      if (f != null) {
        f = f.settledAt(lastWhole);
        history.add(f);
        System.out.printf("chaos: %-11s %-24s %6.1f s .. %6.1f s, whole at %6.1f s%n", f.kind(), f.nodes(),
            (f.start() - history.origin()) / 1e9, (f.end() - history.origin()) / 1e9,
            (f.settled() - history.origin()) / 1e9);
      }
    }
  }

  /** Injects one fault and heals it; returns it, or null when there was nothing to hit. */
  private Fault inject(FaultKind kind) throws Exception {
    int n = cluster.size();
    int victim = random.nextInt(n);
    long holdMs = hold.toMillis() + random.nextInt((int) Math.max(1, hold.toMillis() / 2));
    long start = System.nanoTime();
    String nodes = ChaosCluster.label(victim);
    switch (kind) {
      case KILL -> {
        cluster.kill(victim);
        pause(holdMs);
        cluster.restart(victim);
      }
      case DRAIN -> {
        cluster.drain(victim);
        pause(holdMs / 2);
        cluster.restart(victim);
      }
      case PAUSE -> {
        cluster.freeze(victim, true);
        try {
          pause(holdMs);
        } finally {
          cluster.freeze(victim, false);
        }
      }
      case WORKER_KILL, WORKER_HANG -> {
        List<Long> pids = cluster.workerPids(victim);
        if (pids.isEmpty()) {
          return null;
        }
        long pid = pids.get(random.nextInt(pids.size()));
        ProcessHandle worker = ProcessHandle.of(pid).orElse(null);
        if (worker == null) {
          return null;
        }
        nodes += " worker " + pid;
        signal(worker, kind == FaultKind.WORKER_KILL ? "KILL" : "STOP");
        if (kind == FaultKind.WORKER_HANG) {
          pause(holdMs);
          signal(worker, "CONT"); // it may be gone: the node replaces a hung worker
        }
      }
      case FULL_DISK -> {
        long bytes = cluster.fillDisk(victim);
        nodes += String.format(" disk full (%d MB)", bytes >> 20);
        try {
          // A node writes to its data dir mostly when it starts a worker (its registry file): one of its
          // workers is killed while the disk is full, so that a replacement must start on it.
          pause(holdMs / 3);
          List<Long> pids = cluster.workerPids(victim);
          if (!pids.isEmpty()) {
            ProcessHandle.of(pids.get(random.nextInt(pids.size()))).ifPresent(ProcessHandle::destroyForcibly);
          }
          pause(holdMs - holdMs / 3);
        } finally {
          cluster.freeDisk(victim);
        }
      }
      case SKEW -> {
        long seconds = (random.nextBoolean() ? 1 : -1) * (5 + random.nextInt(56));
        nodes += String.format(" clock %+d s", seconds);
        cluster.drain(victim);
        cluster.restart(victim, seconds);
        cluster.awaitFormed(ChaosCluster.DEADLINE);
        pause(holdMs);
        cluster.drain(victim);
        cluster.restart(victim, 0);
      }
      case ISOLATE, HALVES, BRIDGE -> {
        List<Integer> a = new ArrayList<>();
        List<Integer> b = new ArrayList<>();
        List<Integer> order = shuffled(n);
        if (kind == FaultKind.ISOLATE) {
          a.add(order.get(0));
          b.addAll(order.subList(1, n));
        } else if (kind == FaultKind.HALVES) {
          a.addAll(order.subList(0, n / 2));
          b.addAll(order.subList(n / 2, n));
        } else {
          // The bridge is order[0]: it is on neither list, so it keeps both its links.
          a.add(order.get(1));
          b.add(order.get(2));
        }
        nodes = labels(a) + "|" + labels(b) + (kind == FaultKind.BRIDGE ? " bridge " + ChaosCluster.label(order.get(0))
            : "");
        cluster.partition(a, b);
        try {
          pause(holdMs);
        } finally {
          cluster.heal();
        }
      }
      default -> throw new IllegalStateException(kind.name());
    }
    lastHeal = System.nanoTime();
    return new Fault(kind, nodes, start, lastHeal);
  }

  private List<Integer> shuffled(int n) {
    List<Integer> order = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      order.add(i);
    }
    java.util.Collections.shuffle(order, random);
    return order;
  }

  private static String labels(List<Integer> nodes) {
    List<String> out = new ArrayList<>();
    nodes.stream().sorted().forEach(i -> out.add(ChaosCluster.label(i)));
    return String.join(",", out);
  }

  private static void signal(ProcessHandle p, String sig) throws Exception {
    if (p.isAlive()) {
      new ProcessBuilder("kill", "-" + sig, Long.toString(p.pid())).inheritIO().start().waitFor();
    }
  }

  /** The length of a fault or of a quiet spell: what is being measured is the cluster during it. */
  private static void pause(long ms) throws InterruptedException {
    Thread.sleep(ms);
  }
}
