package io.snakepit.tests.harness;

import java.util.ArrayList;
import java.util.List;

/**
 * The last lines of each node's log, kept when a {@link Cluster} closes and
 * deletes its directories, so that a failed test can still show what its
 * nodes said (CI prints only the build's output). A test extension prints
 * them on failure and clears them before each test.
 */
public final class NodeLogs {

  /** Lines kept per node. */
  static final int TAIL_LINES = 150;
  private static final List<String> KEPT = new ArrayList<>();

  private NodeLogs() {
  }

  /** Keeps the last lines of a node's log. */
  public static synchronized void keep(String node, String log) {
    String[] lines = log.split("\n", -1);
    int from = Math.max(0, lines.length - TAIL_LINES);
    KEPT.add("--- last " + (lines.length - from) + " lines of node " + node + " ---\n"
        + String.join("\n", java.util.Arrays.copyOfRange(lines, from, lines.length)));
  }

  /** What the clusters closed since the last {@link #clear()} kept. */
  public static synchronized List<String> kept() {
    return List.copyOf(KEPT);
  }

  public static synchronized void clear() {
    KEPT.clear();
  }
}
