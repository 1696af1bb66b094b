package io.snakepit.session;

/**
 * A value with the hybrid-logical-clock time and the node of its last write.
 * A {@code null} value with {@code deleted} set is a tombstone: it remembers
 * a delete so that merging with an older copy does not bring the value back.
 * A variable that is a {@link Counter} carries it, and its value is the
 * counter's.
 *
 * @param value   a JSON value (String, Number, Boolean, JsonObject, JsonArray) or null; a counter's value
 * @param hlc     when it was written, see {@link HybridLogicalClock}
 * @param node    the node that wrote it; breaks ties between equal timestamps
 * @param deleted whether this is a tombstone
 * @param counter the counter, for a variable that is one; else null
 */
public record Stamped(Object value, long hlc, String node, boolean deleted, Counter counter) {

  /** A plain value or tombstone, not a counter. */
  public Stamped(Object value, long hlc, String node, boolean deleted) {
    this(value, hlc, node, deleted, null);
  }

  public static Stamped of(Object value, long hlc, String node) {
    return new Stamped(value, hlc, node, false);
  }

  public static Stamped tombstone(long hlc, String node) {
    return new Stamped(null, hlc, node, true);
  }

  /** A counter's entry, its value the counter's, written at {@code hlc} by {@code node}. */
  public static Stamped counter(Counter counter, long hlc, String node) {
    return new Stamped(counter.value(), hlc, node, false, counter);
  }

  /** Whether this entry is a counter. */
  public boolean isCounter() {
    return counter != null;
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

  /**
   * Last writer wins, except for counters: two counters merge by {@link Counter#merge}, and a counter wins over
   * a plain value or a tombstone (a name that is a counter on either side of a partition stays one). Commutative,
   * associative and idempotent.
   */
  public static Stamped merge(Stamped a, Stamped b) {
    if (a == null) {
      return b;
    }
    if (b == null) {
      return a;
    }
    if (a.isCounter() && b.isCounter()) {
      Stamped later = a.winsOver(b) ? a : b;
      return counter(Counter.merge(a.counter, b.counter), later.hlc, later.node);
    }
    if (a.isCounter() != b.isCounter()) {
      return a.isCounter() ? a : b;
    }
    return a.winsOver(b) ? a : b;
  }
}
