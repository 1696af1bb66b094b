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
 */
public record SessionRoute(String lastNode, String lastWorker, StoredHandoff handoff, long order) {

  /** A route with no order (tests, and reads that claim nothing). */
  public SessionRoute(String lastNode, String lastWorker, StoredHandoff handoff) {
    this(lastNode, lastWorker, handoff, 0);
  }

  static SessionRoute of(Session s) {
    return of(s, s.version());
  }

  static SessionRoute of(Session s, long order) {
    return new SessionRoute(s.lastNode(), s.lastWorker(), StoredHandoff.of(s, false), order);
  }

  JsonObject toJson() {
    JsonObject j = new JsonObject().put("last_node", lastNode).put("last_worker", lastWorker).put("order", order);
    return handoff == null ? j : j.put("handoff", handoff.toJson());
  }

  static SessionRoute fromJson(JsonObject j) {
    JsonObject h = j.getJsonObject("handoff");
    return new SessionRoute(j.getString("last_node"), j.getString("last_worker"),
        h == null ? null : StoredHandoff.fromJson(h), j.getLong("order", 0L));
  }
}
