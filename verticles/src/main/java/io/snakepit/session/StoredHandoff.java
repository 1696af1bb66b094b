package io.snakepit.session;

import io.vertx.core.json.JsonObject;

/**
 * A session's Python-side state, exported by an adapter's
 * {@code export_session} and left in the session store for the session's
 * next worker (see the handoff section of docs/architecture.md). Kept under
 * the reserved metadata key {@link Session#HANDOFF_KEY}; never exported or
 * shown as metadata.
 *
 * @param data       the state, base64-encoded; null when read without it ({@link SessionRoute})
 * @param fromNode   the node whose worker exported it
 * @param fromWorker that worker
 * @param checkpoint true for a periodic checkpoint (stays while its node serves the session), false
 *                   for a drain's export (superseded by the next call on that node)
 */
public record StoredHandoff(String data, String fromNode, String fromWorker, boolean checkpoint) {

  /** The handoff a session holds, or null; with its data only when {@code withData}. */
  static StoredHandoff of(Session s, boolean withData) {
    Stamped h = s.metadata().get(Session.HANDOFF_KEY);
    if (h == null || h.deleted() || !(h.value() instanceof JsonObject o)) {
      return null;
    }
    StoredHandoff full = fromJson(o);
    return withData ? full : new StoredHandoff(null, full.fromNode, full.fromWorker, full.checkpoint);
  }

  /** The stored form: {@code {"data", "from_node", "from_worker", "checkpoint"}}. */
  public JsonObject toJson() {
    JsonObject j = new JsonObject().put("from_node", fromNode).put("from_worker", fromWorker)
        .put("checkpoint", checkpoint);
    return data == null ? j : j.put("data", data);
  }

  public static StoredHandoff fromJson(JsonObject j) {
    return new StoredHandoff(j.getString("data"), j.getString("from_node"), j.getString("from_worker"),
        j.getBoolean("checkpoint", false));
  }
}
