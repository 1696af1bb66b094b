package io.snakepit.routing;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * The live nodes as this node knows them, from the heartbeats every routing
 * verticle publishes. A node not heard from for the failure timeout is gone;
 * a draining node stays known (it still finishes calls) but leaves the ring.
 * Confined to the routing verticle's event loop.
 */
final class NodeDirectory {

  /** What one node said in its last heartbeat. */
  record NodeInfo(String id, int capacity, int free, int queued, boolean draining, String http, long heardAtNanos,
                  JsonObject raw) {
  }

  private final Map<String, NodeInfo> nodes = new HashMap<>();
  private final long failureTimeoutNanos;
  private HashRing ring = HashRing.empty();

  NodeDirectory(long failureTimeoutMs) {
    this.failureTimeoutNanos = failureTimeoutMs * 1_000_000;
  }

  /** Records a heartbeat; returns true when the ring changed. */
  boolean heard(JsonObject hb, long nowNanos) {
    String id = hb.getString("node");
    if (id == null) {
      return false;
    }
    nodes.put(id, new NodeInfo(id, Math.max(1, hb.getInteger("capacity", 1)), hb.getInteger("free", 0),
        hb.getInteger("queued", 0), hb.getBoolean("draining", false), hb.getString("http"), nowNanos, hb));
    return rebuild();
  }

  /** Forgets nodes silent for longer than the failure timeout; returns the ids forgotten. */
  Collection<String> expire(long nowNanos) {
    Map<String, NodeInfo> gone = new TreeMap<>();
    nodes.values().removeIf(n -> {
      if (nowNanos - n.heardAtNanos() > failureTimeoutNanos) {
        gone.put(n.id(), n);
        return true;
      }
      return false;
    });
    if (!gone.isEmpty()) {
      rebuild();
    }
    return gone.keySet();
  }

  /** Counts every known node as heard at {@code nowNanos}: their silence so far is not theirs. */
  void heardAllAt(long nowNanos) {
    nodes.replaceAll((id, n) -> new NodeInfo(n.id(), n.capacity(), n.free(), n.queued(), n.draining(), n.http(),
        nowNanos, n.raw()));
  }

  void forget(String id) {
    if (nodes.remove(id) != null) {
      rebuild();
    }
  }

  private boolean rebuild() {
    HashRing next = HashRing.of(ringMembers());
    boolean changed = !next.equals(ring);
    ring = next;
    return changed;
  }

  HashRing ring() {
    return ring;
  }

  /** The ring's members and their capacities: {@link HashRing#of} of this gives {@link #ring()}. */
  Map<String, Integer> ringMembers() {
    Map<String, Integer> members = new TreeMap<>();
    for (NodeInfo n : nodes.values()) {
      if (!n.draining()) {
        members.put(n.id(), n.capacity());
      }
    }
    return members;
  }

  NodeInfo get(String id) {
    return nodes.get(id);
  }

  Collection<NodeInfo> all() {
    return nodes.values();
  }

  /** The node with the most free capacity among those in the ring, or null. */
  NodeInfo leastLoaded() {
    NodeInfo best = null;
    for (NodeInfo n : nodes.values()) {
      if (n.draining()) {
        continue;
      }
      int score = n.free() - n.queued();
      if (best == null || score > best.free() - best.queued()
          || (score == best.free() - best.queued() && n.id().compareTo(best.id()) < 0)) {
        best = n;
      }
    }
    return best;
  }

  /**
   * The nodes for {@code GET /v1/cluster}, in id order. {@code sessions_owned}
   * sums, for each node, the counts every node's heartbeat carries for it
   * (each counts its own share of the store); null until a count arrived.
   */
  JsonArray toJson(long nowNanos) {
    Map<String, Long> owned = new HashMap<>();
    boolean counted = false;
    for (NodeInfo n : nodes.values()) {
      JsonObject counts = n.raw().getJsonObject("owned");
      if (counts != null) {
        counted = true;
        counts.forEach(e -> owned.merge(e.getKey(), ((Number) e.getValue()).longValue(), Long::sum));
      }
    }
    JsonArray out = new JsonArray();
    for (NodeInfo n : new TreeMap<>(nodes).values()) {
      JsonObject raw = n.raw();
      JsonObject addresses = new JsonObject().put("http", raw.getString("http")).put("grpc", raw.getString("grpc"))
          .put("cluster", raw.getString("cluster")).put("bus", raw.getString("bus"));
      out.add(new JsonObject().put("id", n.id()).put("addresses", addresses).put("capacity", n.capacity())
          .put("free", n.free()).put("queued", n.queued()).put("workers", raw.getJsonObject("workers"))
          .put("sessions_owned", counted ? owned.getOrDefault(n.id(), 0L) : null)
          .put("draining", n.draining()).put("in_ring", ring.contains(n.id()))
          .put("last_heard_ms", (nowNanos - n.heardAtNanos()) / 1_000_000));
    }
    return out;
  }
}
