package io.snakepit.tests.chaos;

import java.util.ArrayList;
import java.util.List;

/** The faults a chaos run can inject ({@link Nemesis}). */
public enum FaultKind {
  /** {@code SIGKILL} a node, and start it again on its data dir. */
  KILL(true),
  /** {@code SIGSTOP} a node longer than failure detection, then {@code SIGCONT}. */
  PAUSE(true),
  /** {@code SIGTERM} a node (it drains and hands its sessions off), and start it again. */
  DRAIN(false),
  /** {@code SIGKILL} one of a node's Python workers. */
  WORKER_KILL(true),
  /** {@code SIGSTOP} one of a node's Python workers: it misses heartbeats and is replaced. */
  WORKER_HANG(true),
  /** Cut one node off from all the others (network namespaces only). */
  ISOLATE(true),
  /** Split the nodes in two halves, the first one the larger (network namespaces only). */
  HALVES(true),
  /** Cut two nodes off from each other, while a third (the bridge) still sees both (namespaces only). */
  BRIDGE(true),
  /**
   * Fill the disk under one node's data dir (a small tmpfs of its own; root only), kill one of its workers
   * meanwhile so that a replacement starts on the full disk, then free it.
   */
  FULL_DISK(true),
  /**
   * Drain a node and start it again with its wall clock some seconds off (libfaketime; its monotonic clock
   * stays true), then drain it and start it with the clock right.
   */
  SKEW(false);

  /** Whether this fault may lose sessions' Python-side state (docs/cluster.md, "What survives what"). */
  public final boolean losesPythonState;

  FaultKind(boolean losesPythonState) {
    this.losesPythonState = losesPythonState;
  }

  public boolean partition() {
    return this == ISOLATE || this == HALVES || this == BRIDGE;
  }

  /** Parses {@code kill,pause,...}, also accepting {@code partition} for the three partition kinds. */
  public static List<FaultKind> parse(String list) {
    List<FaultKind> out = new ArrayList<>();
    for (String s : list.split(",")) {
      String k = s.trim().toLowerCase().replace('-', '_');
      if (k.isEmpty()) {
        continue;
      }
      if (k.equals("partition")) {
        out.addAll(List.of(ISOLATE, HALVES, BRIDGE));
      } else if (k.equals("worker")) {
        out.addAll(List.of(WORKER_KILL, WORKER_HANG));
      } else {
        out.add(valueOf(k.toUpperCase()));
      }
    }
    return out;
  }
}

