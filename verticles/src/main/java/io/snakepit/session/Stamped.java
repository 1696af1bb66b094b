package io.snakepit.session;

/**
 * A value with the hybrid-logical-clock time and the node of its last write.
 * A {@code null} value with {@code deleted} set is a tombstone: it remembers
 * a delete so that merging with an older copy does not bring the value back.
 *
 * @param value   a JSON value (String, Number, Boolean, JsonObject, JsonArray) or null
 * @param hlc     when it was written, see {@link HybridLogicalClock}
 * @param node    the node that wrote it; breaks ties between equal timestamps
 * @param deleted whether this is a tombstone
 */
public record Stamped(Object value, long hlc, String node, boolean deleted) {

  public static Stamped of(Object value, long hlc, String node) {
    return new Stamped(value, hlc, node, false);
  }

  public static Stamped tombstone(long hlc, String node) {
    return new Stamped(null, hlc, node, true);
  }

  /** Whether this write wins over {@code other}: later timestamp, then greater node id, then a tombstone. */
  public boolean winsOver(Stamped other) {
    if (hlc != other.hlc) {
      return hlc > other.hlc;
    }
    int byNode = node.compareTo(other.node);
    if (byNode != 0) {
      return byNode > 0;
    }
    if (deleted != other.deleted) {
      return deleted;
    }
    // Same stamp, same node, same kind: one write seen twice; keep a deterministic pick.
    return String.valueOf(value).compareTo(String.valueOf(other.value)) >= 0;
  }

  /** Last writer wins. Commutative, associative and idempotent. */
  public static Stamped merge(Stamped a, Stamped b) {
    if (a == null) {
      return b;
    }
    if (b == null) {
      return a;
    }
    return a.winsOver(b) ? a : b;
  }
}
