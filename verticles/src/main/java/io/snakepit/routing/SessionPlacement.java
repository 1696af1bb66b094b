package io.snakepit.routing;

import io.vertx.core.Vertx;
import io.vertx.core.shareddata.Shareable;

/**
 * Where a session's data lives: the node whose store holds its primary copy.
 * A session's calls go there, so that its owner's reads and writes are local
 * (plus the synchronous backups), and ownership follows the data when the
 * store moves it (Hazelcast's partition migrations on a join or a leave).
 *
 * <p>A store that places data publishes its placement on its node
 * ({@link #publish}); the router reads it with {@link #of}. Without one (a
 * single node, the memory store) the ring alone decides.
 */
public interface SessionPlacement extends Shareable {

  /** The node that holds the primary copy of the session, or null when unknown (no such node yet). */
  String primaryOf(String sessionId);

  /**
   * Whether {@code node}'s store is a member of this node's store cluster now: the node is alive and reachable
   * as far as the store can tell, even when its event-bus subscriptions are not (yet) known here.
   */
  default boolean isMember(String node) {
    return false;
  }

  /**
   * The owner of a session, as the router, the session's {@code owner} field and the per-node counts all
   * see it: the node of its primary copy while that node is in the ring (live and not draining), else the
   * ring's own choice. A draining node keeps its primaries until it leaves the store's cluster, but runs no
   * more session calls, so its sessions go to the ring's choice meanwhile.
   */
  static String owner(SessionPlacement placement, HashRing ring, String sessionId) {
    String primary = placement == null ? null : placement.primaryOf(sessionId);
    return primary != null && ring.contains(primary) ? primary : ring.owner(sessionId);
  }

  /** The placement published on the node that {@code vertx} runs, or null. */
  static SessionPlacement of(Vertx vertx) {
    return vertx.sharedData().<String, SessionPlacement>getLocalMap(MAP).get(KEY);
  }

  /** Makes {@code placement} the node's placement (until it is unpublished; see {@link LocalPublication}). */
  static void publish(Vertx vertx, SessionPlacement placement) {
    LocalPublication.publish(vertx, MAP, KEY, placement);
  }

  /** Withdraws {@code placement}: the one published before it, if still published, is the node's again. */
  static void unpublish(Vertx vertx, SessionPlacement placement) {
    LocalPublication.withdraw(vertx, MAP, KEY, placement);
  }

  /** The node-local map that holds the placement. */
  String MAP = "snakepit.placement";
  /** Its key there. */
  String KEY = "placement";
}
