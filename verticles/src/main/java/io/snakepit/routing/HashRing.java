package io.snakepit.routing;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A consistent-hash ring with virtual nodes, weighted by capacity. Every node
 * that knows the same members (id and capacity) builds the same ring, so they
 * all agree on each session's owner; when a member joins or leaves, only the
 * sessions between its virtual nodes and their neighbours move, about 1/N.
 * Immutable and thread-safe.
 */
public final class HashRing {

  /** Virtual nodes per unit of capacity; capped so one huge node cannot dominate the ring's size. */
  static final int VNODES_PER_UNIT = 32;
  static final int MAX_VNODES_PER_NODE = 2048;

  private final long[] points;
  private final String[] owners;
  private final Map<String, Integer> capacities;

  private HashRing(long[] points, String[] owners, Map<String, Integer> capacities) {
    this.points = points;
    this.owners = owners;
    this.capacities = capacities;
  }

  /** An empty ring: every lookup answers null. */
  public static HashRing empty() {
    return new HashRing(new long[0], new String[0], Map.of());
  }

  /**
   * Builds the ring of these members.
   *
   * @param members node id to capacity (workers × concurrency); capacity below 1 counts as 1
   */
  public static HashRing of(Map<String, Integer> members) {
    TreeMap<String, Integer> sorted = new TreeMap<>(members);
    record Point(long hash, String node) {
    }
    List<Point> all = new ArrayList<>();
    for (Map.Entry<String, Integer> m : sorted.entrySet()) {
      int vnodes = Math.min(MAX_VNODES_PER_NODE, Math.max(1, m.getValue()) * VNODES_PER_UNIT);
      for (int i = 0; i < vnodes; i++) {
        all.add(new Point(hash(m.getKey() + "#" + i), m.getKey()));
      }
    }
    // Ties (vanishingly rare) break by node id, so every node sorts the same way.
    all.sort(Comparator.comparingLong(Point::hash).thenComparing(Point::node));
    long[] points = new long[all.size()];
    String[] owners = new String[all.size()];
    for (int i = 0; i < all.size(); i++) {
      points[i] = all.get(i).hash;
      owners[i] = all.get(i).node;
    }
    return new HashRing(points, owners, Map.copyOf(sorted));
  }

  /** The node that owns a key, or null when the ring is empty. */
  public String owner(String key) {
    if (points.length == 0) {
      return null;
    }
    int i = Arrays.binarySearch(points, hash(key));
    if (i < 0) {
      i = -i - 1;
    }
    return owners[i == points.length ? 0 : i];
  }

  /** The members of the ring. */
  public Collection<String> nodes() {
    return capacities.keySet();
  }

  public int size() {
    return capacities.size();
  }

  public boolean contains(String node) {
    return capacities.containsKey(node);
  }

  /** 64-bit FNV-1a, then a murmur finaliser: cheap, stable across JVMs, well spread. */
  static long hash(String s) {
    long h = 0xcbf29ce484222325L;
    for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
      h ^= b;
      h *= 0x100000001b3L;
    }
    h ^= h >>> 33;
    h *= 0xff51afd7ed558ccdL;
    h ^= h >>> 33;
    h *= 0xc4ceb9fe1a85ec53L;
    h ^= h >>> 33;
    return h;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof HashRing r && r.capacities.equals(capacities);
  }

  @Override
  public int hashCode() {
    return capacities.hashCode();
  }

  @Override
  public String toString() {
    return "HashRing" + capacities;
  }
}
