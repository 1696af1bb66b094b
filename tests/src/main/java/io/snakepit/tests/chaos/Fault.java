package io.snakepit.tests.chaos;

import io.vertx.core.json.JsonObject;

/**
 * A fault the nemesis injected: what, on which nodes, from when to when it was healed
 * ({@link System#nanoTime()}).
 *
 * @param kind the nemesis that injected it
 * @param nodes the nodes it hit, e.g. {@code n2}, or {@code n1|n2,n3} for a partition
 * @param start when it began
 * @param end when it was healed (the node restarted, woken, reconnected)
 */
public record Fault(FaultKind kind, String nodes, long start, long end) {

  /** Whether this fault was in force at some time in {@code [from, to]}. */
  public boolean overlaps(long from, long to) {
    return start <= to && end >= from;
  }

  public JsonObject toJson() {
    return new JsonObject().put("kind", kind.name()).put("nodes", nodes).put("start", start).put("end", end);
  }

  public static Fault fromJson(JsonObject j) {
    return new Fault(FaultKind.valueOf(j.getString("kind")), j.getString("nodes"), j.getLong("start"),
        j.getLong("end"));
  }
}
