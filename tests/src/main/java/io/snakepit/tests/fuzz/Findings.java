package io.snakepit.tests.fuzz;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** What a fuzz run found, and how many inputs each door took; safe to add to from any thread. */
public final class Findings {

  /** Reported findings per door beyond this are counted, not kept: one bug often breaks thousands of inputs. */
  private static final int KEEP_PER_PROBLEM = 3;

  private final List<Finding> kept = new ArrayList<>();
  private final Map<String, Integer> byProblem = new LinkedHashMap<>();
  private final Map<String, Long> inputs = new LinkedHashMap<>();

  synchronized void add(Finding f) {
    String key = f.door() + ": " + f.problem().replaceAll("[0-9a-f]{8}-[0-9a-f-]{27}", "<id>");
    int n = byProblem.merge(key, 1, Integer::sum);
    if (n <= KEEP_PER_PROBLEM) {
      kept.add(f);
    }
  }

  synchronized void sent(String door) {
    inputs.merge(door, 1L, Long::sum);
  }

  public synchronized List<Finding> all() {
    return List.copyOf(kept);
  }

  public synchronized boolean clean() {
    return kept.isEmpty();
  }

  /** Inputs sent per door. */
  public synchronized Map<String, Long> inputs() {
    return Map.copyOf(inputs);
  }

  /** A table of inputs per door, then each distinct problem with its count and examples. */
  public synchronized String summary() {
    StringBuilder b = new StringBuilder();
    b.append(String.format("%-14s %10s%n", "door", "inputs"));
    inputs.forEach((door, n) -> b.append(String.format("%-14s %10d%n", door, n)));
    if (kept.isEmpty()) {
      b.append("no findings\n");
      return b.toString();
    }
    b.append(byProblem.size()).append(" distinct problems:\n");
    byProblem.forEach((k, n) -> b.append(String.format("  %5d × %s%n", n, k)));
    b.append("examples:\n");
    kept.forEach(f -> b.append("  ").append(f).append('\n'));
    return b.toString();
  }
}
