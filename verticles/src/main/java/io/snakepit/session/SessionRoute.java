package io.snakepit.session;

import io.vertx.core.json.JsonObject;

/**
 * What a call needs to know of its session to route it: where its
 * Python-side state was last held and whether exported state waits in the
 * store. Read with {@link SessionStoreClient#route}, without the session's
 * variables or programs; a call's own read also claims the session for its
 * node ({@link SessionStore#claim}).
 *
 * @param lastNode   the node that last ran a call in the session, or null
 * @param lastWorker the worker that last ran one, or null
 * @param handoff    the exported state waiting in the store (without its data), or null
 * @param order      for a route read by a claim ({@link SessionStore#claim}), the claim's order; else the
 *                   session's version
 * @param majorityOnly whether the store runs calls only on a partition's majority side
 *                   ({@link SessionStore#majorityOnly}): then a call that cannot take the session over from a
 *                   node still in the cluster is refused instead of run beside that node's calls
 */
public record SessionRoute(String lastNode, String lastWorker, StoredHandoff handoff, long order,
                           boolean majorityOnly) {

  /** A route with no order (tests, and reads that claim nothing). */
  public SessionRoute(String lastNode, String lastWorker, StoredHandoff handoff) {
    this(lastNode, lastWorker, handoff, 0, false);
  }

  static SessionRoute of(Session s, boolean majorityOnly) {
    return of(s, s.version(), majorityOnly);
  }

  static SessionRoute of(Session s, long order, boolean majorityOnly) {
    return new SessionRoute(s.lastNode(), s.lastWorker(), StoredHandoff.of(s, false), order, majorityOnly);
  }

  JsonObject toJson() {
    JsonObject j = new JsonObject().put("last_node", lastNode).put("last_worker", lastWorker).put("order", order)
        .put("majority_only", majorityOnly);
    return handoff == null ? j : j.put("handoff", handoff.toJson());
  }

  static SessionRoute fromJson(JsonObject j) {
    JsonObject h = j.getJsonObject("handoff");
    return new SessionRoute(j.getString("last_node"), j.getString("last_worker"),
        h == null ? null : StoredHandoff.fromJson(h), j.getLong("order", 0L), j.getBoolean("majority_only", false));
  }
}
