package io.snakepit.client;

import io.snakepit.contract.Addresses;
import io.snakepit.routing.HashRing;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The client's own view of the cluster, from the nodes' ring heartbeats, so
 * that a call reaches the node that should run it in one hop: a session's
 * owner, or the least-loaded node for a call without a session. Only used
 * when Vert.x is clustered; a single JVM goes through its local router.
 */
final class ClusterView {

  private record Node(int capacity, int free, boolean draining, long heardAtNanos) {
  }

  private final Map<String, Node> nodes = new ConcurrentHashMap<>();
  private final long failureTimeoutNanos;
  private volatile HashRing ring = HashRing.empty();
  /** Where sessions' primaries are, when this Vert.x is a Hazelcast member of the cluster; else null. */
  private final io.snakepit.routing.SessionPlacement placement;
  private final MessageConsumer<Object> consumer;
  /** Completed by the first heartbeat: until then the client does not know where anything runs. */
  private final Promise<Void> firstHeard = Promise.promise();

  ClusterView(Vertx vertx, long failureTimeoutMs) {
    this.failureTimeoutNanos = failureTimeoutMs * 1_000_000;
    this.placement = io.snakepit.session.hazelcast.HazelcastSessionStoreFactory.placementOf(vertx);
    // Any member may publish here, and anything: what is not a JSON object is not a heartbeat.
    this.consumer = vertx.eventBus().consumer(Addresses.RING_HEARTBEAT, m -> {
      if (m.body() instanceof JsonObject hb) {
        heard(hb);
      }
    });
  }

  private void heard(JsonObject hb) {
    String id = hb == null ? null : hb.getString("node");
    if (id == null) {
      return;
    }
    if (hb.getBoolean("leaving", false)) {
      nodes.remove(id);
    } else {
      nodes.put(id, new Node(Math.max(1, hb.getInteger("capacity", 1)), hb.getInteger("free", 0),
          hb.getBoolean("draining", false), System.nanoTime()));
      firstHeard.tryComplete();
    }
    rebuild();
  }

  private void rebuild() {
    long now = System.nanoTime();
    nodes.entrySet().removeIf(e -> now - e.getValue().heardAtNanos() > failureTimeoutNanos);
    Map<String, Integer> members = new TreeMap<>();
    nodes.forEach((id, n) -> {
      if (!n.draining()) {
        members.put(id, n.capacity());
      }
    });
    HashRing next = HashRing.of(members);
    if (!next.equals(ring)) {
      ring = next;
    }
  }

  /** The node a call should go to, or null when no node is known yet. */
  String target(String sessionId) {
    rebuild();
    if (sessionId != null) {
      // The nodes' own rule (SessionPlacement.owner), so that the call needs no second hop.
      return io.snakepit.routing.SessionPlacement.owner(placement, ring, sessionId);
    }
    String best = null;
    int bestFree = Integer.MIN_VALUE;
    for (Map.Entry<String, Node> e : new TreeMap<>(nodes).entrySet()) {
      if (!e.getValue().draining() && e.getValue().free() > bestFree) {
        best = e.getKey();
        bestFree = e.getValue().free();
      }
    }
    return best;
  }

  /**
   * Completes once a node has been heard from, or after {@code timeoutMs}:
   * a client created a moment ago waits for the first heartbeats (they come
   * twice a second) rather than sending its first calls nowhere.
   */
  Future<Void> known(Vertx vertx, long timeoutMs) {
    if (firstHeard.future().isComplete()) {
      return Future.succeededFuture();
    }
    Promise<Void> p = Promise.promise();
    long timer = vertx.setTimer(timeoutMs, t -> p.tryComplete());
    firstHeard.future().onComplete(ar -> {
      vertx.cancelTimer(timer);
      p.tryComplete();
    });
    return p.future();
  }

  void close() {
    consumer.unregister();
  }
}
