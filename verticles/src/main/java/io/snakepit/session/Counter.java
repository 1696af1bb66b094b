package io.snakepit.session;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.json.JsonObject;
import java.util.HashMap;
import java.util.Map;

/**
 * A session variable that is a counter: a PN-counter, a CRDT that stays exact
 * across network partitions. Each node keeps its own running totals of what
 * it added ({@code up}) and took away ({@code down}); the value is their sum.
 * Only node {@code n} changes {@code n}'s totals, and a node is on one side of
 * a partition only, so two diverged copies merge by keeping, per node, the
 * larger total: every increment acknowledged on either side counts after the
 * heal, and none counts twice. A read-modify-write ({@code get}, add,
 * {@code set}) has no such property: across a partition the later write wins
 * and the other side's increments are lost (docs/cluster.md, "Counters").
 *
 * <p>A counter has one entry per node that ever changed it; it is removed with
 * its session.
 *
 * @param up   per node, the sum of its positive increments
 * @param down per node, the sum of its negative increments, as a positive number
 */
public record Counter(Map<String, Long> up, Map<String, Long> down) {

  /** A counter at zero. */
  public static final Counter ZERO = new Counter(Map.of(), Map.of());

  public Counter {
    up = Map.copyOf(up);
    down = Map.copyOf(down);
  }

  /** The counter's value: everything added minus everything taken away. */
  public long value() {
    return sum(up) - sum(down);
  }

  /**
   * This counter moved by {@code by} in {@code node}'s totals.
   *
   * @throws SnakepitException {@code limit_exceeded} when the value would leave the range of a 64-bit integer
   */
  public Counter add(String node, long by) {
    Map<String, Long> u = up;
    Map<String, Long> d = down;
    try {
      if (by > 0) {
        u = plus(up, node, by);
      } else if (by < 0) {
        d = plus(down, node, Math.negateExact(by));
      }
      Counter next = new Counter(u, d);
      Math.subtractExact(sum(next.up), sum(next.down));
      return next;
    } catch (ArithmeticException e) {
      throw new SnakepitException(ErrorCode.LIMIT_EXCEEDED, "A counter's value must stay within a 64-bit signed "
          + "integer; adding " + by + " would leave it. Nothing was changed.");
    }
  }

  /**
   * An increment's amount as a request gives it: a whole number (a JSON integer).
   *
   * @throws SnakepitException {@code bad_request} for anything else
   */
  public static long amount(Object by) {
    if (!(by instanceof Integer || by instanceof Long)) {
      throw new SnakepitException(ErrorCode.BAD_REQUEST, "'by' must be a whole number (64-bit), the amount to add "
          + "to the counter; negative subtracts. Got " + by + ".");
    }
    return ((Number) by).longValue();
  }

  /** The merge of two copies: per node, the larger of each total. Commutative, associative and idempotent. */
  public static Counter merge(Counter a, Counter b) {
    return new Counter(max(a.up, b.up), max(a.down, b.down));
  }

  /** The stored form, {@code {"p": {node: total}, "m": {node: total}}}. */
  public JsonObject toJson() {
    return new JsonObject().put("p", new JsonObject(new HashMap<>(up))).put("m", new JsonObject(new HashMap<>(down)));
  }

  /**
   * Reads {@link #toJson()}'s form.
   *
   * @throws IllegalArgumentException when a total is missing, negative or not an integer
   */
  public static Counter fromJson(JsonObject j) {
    return new Counter(totals(j, "p"), totals(j, "m"));
  }

  private static Map<String, Long> totals(JsonObject j, String key) {
    JsonObject o = j.getJsonObject(key);
    if (o == null) {
      return Map.of();
    }
    Map<String, Long> out = new HashMap<>(o.size() * 2);
    for (String node : o.fieldNames()) {
      Object v = o.getValue(node);
      if (!(v instanceof Integer || v instanceof Long) || ((Number) v).longValue() < 0) {
        throw new IllegalArgumentException("a counter's totals must be non-negative integers, got " + key + "."
            + node + "=" + v);
      }
      out.put(node, ((Number) v).longValue());
    }
    return out;
  }

  private static long sum(Map<String, Long> m) {
    long s = 0;
    for (long v : m.values()) {
      s = Math.addExact(s, v);
    }
    return s;
  }

  private static Map<String, Long> plus(Map<String, Long> m, String node, long by) {
    Map<String, Long> out = new HashMap<>(m);
    out.merge(node, by, Math::addExact);
    return out;
  }

  private static Map<String, Long> max(Map<String, Long> a, Map<String, Long> b) {
    if (a.isEmpty()) {
      return b;
    }
    Map<String, Long> out = new HashMap<>(a);
    b.forEach((k, v) -> out.merge(k, v, Math::max));
    return out;
  }
}
