package io.snakepit.session;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * The session store as the rest of the node (and applications on the
 * cluster) see it: one method per operation of {@link SessionStoreVerticle},
 * each a Future that fails with a typed
 * {@link io.snakepit.contract.SnakepitException}. The one binding,
 * {@link EventBusSessionStoreClient}, sends to the operation's address in
 * {@link io.snakepit.contract.SessionOp}; nothing else builds session-store
 * messages by hand.
 *
 * <p>A client is cheap and immutable: {@link #withCorrelationId} gives a copy
 * whose requests carry a request's correlation id.
 */
public interface SessionStoreClient {

  /** A client of this node's own session store (node-local addresses). */
  static SessionStoreClient local(Vertx vertx) {
    return new EventBusSessionStoreClient(vertx, false);
  }

  /** A client of the cluster's session store, from any JVM on the clustered event bus. */
  static SessionStoreClient cluster(Vertx vertx) {
    return new EventBusSessionStoreClient(vertx, true);
  }

  /** This client, with {@code correlationId} on every request (null for none). */
  SessionStoreClient withCorrelationId(String correlationId);

  /** This client, failing a request with {@code timeout} when no reply comes within {@code ms}. */
  SessionStoreClient withTimeout(long ms);

  /**
   * Creates a session, or answers the existing one with that id.
   *
   * @param spec {@code {"id"?, "ttl_s"?, "metadata"?}}, checked by the store
   * @return {@code {"session": {...}, "created": bool}}
   */
  Future<JsonObject> create(JsonObject spec);

  /** A session in its public form (docs/sessions.md); touches it. */
  Future<JsonObject> get(String id);

  /** What a call needs to route (last node, last worker, handed-off state); touches the session. */
  Future<SessionRoute> route(String id);

  /**
   * As {@link #route(String)}, for a call about to run on {@code node}: claims the session for it
   * ({@link SessionStore#claim}) and answers the route as it was before, with the claim's order.
   */
  Future<SessionRoute> route(String id, String node);

  Future<Boolean> exists(String id);

  /** Deletes a session; true when it existed. */
  Future<Boolean> delete(String id);

  /** A page of sessions in public form: {@code {"sessions": [...], "next_cursor"?}}. */
  Future<JsonObject> list(String cursor, int limit);

  /** A page of sessions in export form (stamps and tombstones, no node-internal keys). */
  Future<JsonObject> export(String cursor, int limit);

  /**
   * Merges sessions in export form.
   *
   * @return {@code {"imported", "skipped", "failed", "errors"}}
   */
  Future<JsonObject> importSessions(JsonArray sessions);

  Future<Long> count();

  Future<JsonObject> stats();

  Future<JsonObject> health();

  /** One variable's value; {@code not_found_in_session} when it is not set. */
  Future<Object> getVariable(String id, String name);

  /** Sets a variable; completes with the session's new version once the write is as durable as configured. */
  Future<Long> putVariable(String id, String name, Object value);

  Future<Long> deleteVariable(String id, String name);

  /**
   * Adds {@code by} (negative subtracts) to the counter variable {@code name}, starting it at zero, and completes
   * with its new value; exact across partitions ({@link Counter}). {@code bad_request} when the variable holds a
   * value that is not a counter.
   */
  Future<Long> increment(String id, String name, long by);

  /** Every live variable, as a JSON object. */
  Future<JsonObject> variables(String id);

  Future<JsonObject> getProgram(String id, String programId);

  Future<Long> putProgram(String id, String programId, JsonObject program);

  Future<Long> putMetadata(String id, String key, Object value);

  /** Records the node and worker that served a call in the session. */
  Future<Void> served(String id, String node, String worker);

  /** Leaves a session's exported Python-side state in the store for its next worker. */
  Future<Void> putHandoff(String id, StoredHandoff handoff);

  /** The state left by {@link #putHandoff}, or null. */
  Future<StoredHandoff> getHandoff(String id);

  /** Removes what {@link #putHandoff} left; nothing when there is none. */
  Future<Void> clearHandoff(String id);

  /** The live sessions each ring member owns, among this store member's share: {@code {node: count}}. */
  Future<JsonObject> countByOwner(JsonObject ring);
}
