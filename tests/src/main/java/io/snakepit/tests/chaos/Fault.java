package io.snakepit.tests.chaos;

import io.vertx.core.json.JsonObject;

/**
 * A fault the nemesis injected: what, on which nodes, from when to when it was healed, and when the cluster was
 * whole again after it ({@link System#nanoTime()}).
 *
 * @param kind the nemesis that injected it
 * @param nodes the nodes it hit, e.g. {@code n2}, or {@code n1|n2,n3} for a partition
 * @param start when it began
 * @param end when it was healed (the node restarted, woken, reconnected)
 * @param settled when, after the heal, every node saw every other in its ring and its Hazelcast member saw every
 *                member with no migration running ({@link ChaosCluster#whole}); after a partition, Hazelcast merges
 *                the two sides only then, so in available mode each side keeps serving its own copies until it
 */
public record Fault(FaultKind kind, String nodes, long start, long end, long settled) {

  /** A fault whose settling was not measured: it counts as settled when healed. */
  public Fault(FaultKind kind, String nodes, long start, long end) {
    this(kind, nodes, start, end, end);
  }

  /** Whether this fault was in force at some time in {@code [from, to]}. */
  public boolean overlaps(long from, long to) {
    return start <= to && end >= from;
  }

  /** Whether this fault was in force, or the cluster not yet whole after it, at some time in {@code [from, to]}. */
  public boolean overlapsUntilSettled(long from, long to) {
    return start <= to && Math.max(end, settled) >= from;
  }

  /** The same fault, settled at {@code when}. */
  public Fault settledAt(long when) {
    return new Fault(kind, nodes, start, end, when);
  }

  public JsonObject toJson() {
    return new JsonObject().put("kind", kind.name()).put("nodes", nodes).put("start", start).put("end", end)
        .put("settled", settled);
  }

  public static Fault fromJson(JsonObject j) {
    return new Fault(FaultKind.valueOf(j.getString("kind")), j.getString("nodes"), j.getLong("start"),
        j.getLong("end"), j.getLong("settled", j.getLong("end")));
  }
}
