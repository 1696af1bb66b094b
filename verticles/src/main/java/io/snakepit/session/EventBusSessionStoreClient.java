package io.snakepit.session;

import io.snakepit.contract.Headers;
import io.snakepit.contract.SessionOp;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * {@link SessionStoreClient} over the event bus: the one place that builds
 * session-store requests and reads their replies.
 */
final class EventBusSessionStoreClient implements SessionStoreClient {

  /** As Vert.x's default send timeout; session operations answer in milliseconds. */
  private static final long DEFAULT_TIMEOUT_MS = 30_000;

  private final Vertx vertx;
  private final boolean cluster;
  private final String correlationId;
  private final long timeoutMs;

  EventBusSessionStoreClient(Vertx vertx, boolean cluster) {
    this(vertx, cluster, null, DEFAULT_TIMEOUT_MS);
  }

  private EventBusSessionStoreClient(Vertx vertx, boolean cluster, String correlationId, long timeoutMs) {
    this.vertx = vertx;
    this.cluster = cluster;
    this.correlationId = correlationId;
    this.timeoutMs = timeoutMs;
  }

  @Override
  public SessionStoreClient withCorrelationId(String cid) {
    return new EventBusSessionStoreClient(vertx, cluster, cid, timeoutMs);
  }

  @Override
  public SessionStoreClient withTimeout(long ms) {
    return new EventBusSessionStoreClient(vertx, cluster, correlationId, ms);
  }

  @Override
  public Future<JsonObject> create(JsonObject spec) {
    return ask(SessionOp.CREATE, spec == null ? new JsonObject() : spec);
  }

  @Override
  public Future<JsonObject> get(String id) {
    return ask(SessionOp.GET, id(id));
  }

  @Override
  public Future<SessionRoute> route(String id) {
    return ask(SessionOp.ROUTE, id(id)).map(SessionRoute::fromJson);
  }

  @Override
  public Future<SessionRoute> route(String id, String node) {
    return ask(SessionOp.ROUTE, id(id).put("node", node)).map(SessionRoute::fromJson);
  }

  @Override
  public Future<Boolean> exists(String id) {
    return ask(SessionOp.EXISTS, id(id)).map(r -> r.getBoolean("exists"));
  }

  @Override
  public Future<Boolean> delete(String id) {
    return ask(SessionOp.DELETE, id(id)).map(r -> r.getBoolean("deleted"));
  }

  @Override
  public Future<JsonObject> list(String cursor, int limit) {
    return ask(SessionOp.LIST, page(cursor, limit));
  }

  @Override
  public Future<JsonObject> export(String cursor, int limit) {
    return ask(SessionOp.EXPORT, page(cursor, limit));
  }

  @Override
  public Future<JsonObject> importSessions(JsonArray sessions) {
    return ask(SessionOp.IMPORT, new JsonObject().put("sessions", sessions));
  }

  @Override
  public Future<Long> count() {
    return ask(SessionOp.COUNT, new JsonObject()).map(r -> r.getLong("count"));
  }

  @Override
  public Future<JsonObject> stats() {
    return ask(SessionOp.STATS, new JsonObject());
  }

  @Override
  public Future<JsonObject> health() {
    return ask(SessionOp.HEALTH, new JsonObject());
  }

  @Override
  public Future<Object> getVariable(String id, String name) {
    return ask(SessionOp.VAR_GET, id(id).put("name", name)).map(r -> r.getValue("value"));
  }

  @Override
  public Future<Long> putVariable(String id, String name, Object value) {
    return version(ask(SessionOp.VAR_PUT, id(id).put("name", name).put("value", value)));
  }

  @Override
  public Future<Long> deleteVariable(String id, String name) {
    return version(ask(SessionOp.VAR_DELETE, id(id).put("name", name)));
  }

  @Override
  public Future<Long> increment(String id, String name, long by) {
    return ask(SessionOp.VAR_INCREMENT, id(id).put("name", name).put("by", by)).map(r -> r.getLong("value"));
  }

  @Override
  public Future<JsonObject> variables(String id) {
    return ask(SessionOp.VARS, id(id)).map(r -> r.getJsonObject("variables"));
  }

  @Override
  public Future<JsonObject> getProgram(String id, String programId) {
    return ask(SessionOp.PROGRAM_GET, id(id).put("program_id", programId)).map(r -> r.getJsonObject("program"));
  }

  @Override
  public Future<Long> putProgram(String id, String programId, JsonObject program) {
    return version(ask(SessionOp.PROGRAM_PUT, id(id).put("program_id", programId).put("program", program)));
  }

  @Override
  public Future<Long> putMetadata(String id, String key, Object value) {
    return version(ask(SessionOp.META_PUT, id(id).put("key", key).put("value", value)));
  }

  @Override
  public Future<Void> served(String id, String node, String worker) {
    return ask(SessionOp.SERVED, id(id).put("node", node).put("worker", worker)).mapEmpty();
  }

  @Override
  public Future<Void> putHandoff(String id, StoredHandoff handoff) {
    return ask(SessionOp.HANDOFF_PUT, handoff.toJson().put("id", id)).mapEmpty();
  }

  @Override
  public Future<StoredHandoff> getHandoff(String id) {
    return ask(SessionOp.HANDOFF_GET, id(id)).map(r -> {
      JsonObject h = r.getJsonObject("handoff");
      return h == null ? null : StoredHandoff.fromJson(h);
    });
  }

  @Override
  public Future<Void> clearHandoff(String id) {
    return ask(SessionOp.HANDOFF_CLEAR, id(id)).mapEmpty();
  }

  @Override
  public Future<JsonObject> countByOwner(JsonObject ring) {
    return ask(SessionOp.COUNT_BY_OWNER, new JsonObject().put("ring", ring)).map(r -> r.getJsonObject("counts"));
  }

  // ---- plumbing --------------------------------------------------------------------------------

  private static JsonObject id(String id) {
    return new JsonObject().put("id", id);
  }

  private static JsonObject page(String cursor, int limit) {
    JsonObject b = new JsonObject().put("limit", limit);
    return cursor == null ? b : b.put("cursor", cursor);
  }

  private static Future<Long> version(Future<JsonObject> reply) {
    return reply.map(r -> r.getLong("version"));
  }

  private Future<JsonObject> ask(SessionOp op, JsonObject body) {
    DeliveryOptions options = new DeliveryOptions().setSendTimeout(timeoutMs);
    if (correlationId != null) {
      options.addHeader(Headers.CORRELATION_ID, correlationId);
    }
    return vertx.eventBus().<JsonObject>request(cluster ? op.clusterAddress() : op.address(), body, options)
        .map(Message::body)
        .recover(t -> Future.failedFuture(SnakepitException.from(t).withCorrelationId(correlationId)));
  }
}
