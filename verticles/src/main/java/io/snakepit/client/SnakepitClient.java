package io.snakepit.client;

import io.snakepit.contract.Addresses;
import io.snakepit.contract.BytePaths;
import io.snakepit.contract.Headers;
import io.snakepit.contract.SnakepitException;
import io.snakepit.session.SessionStoreClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.streams.ReadStream;

/**
 * The typed client of a Snakepit node (or cluster) for Vert.x applications
 * that embed the library or join the cluster: runs tools, streams their
 * output with backpressure, and works with sessions, all over the event bus.
 * Failures are {@link SnakepitException}s with the product's error codes.
 *
 * <pre>{@code
 * SnakepitClient client = SnakepitClient.create(vertx);
 * client.execute("add", new JsonObject().put("a", 1).put("b", 2))
 *     .onSuccess(r -> System.out.println(r.result()));          // 3
 * client.stream("count", new JsonObject().put("n", 1000))
 *     .handler(item -> ...).endHandler(v -> ...);                 // paced by this handler
 * }</pre>
 *
 * <p>Thread-safe; keep one per Vert.x instance.
 */
public final class SnakepitClient {

  private final Vertx vertx;
  private final ClientOptions options;

  private final ClusterView cluster;
  private final SessionStoreClient sessionStore;
  /** How long a new client in a cluster waits for the first heartbeat: the nodes' failure timeout. */
  private static final long CLUSTER_WAIT_MS = 5_000;

  private SnakepitClient(Vertx vertx, ClientOptions options) {
    this.vertx = vertx;
    this.options = options;
    // In a cluster the client holds the ring itself and goes straight to the owner: one hop.
    this.cluster = vertx.isClustered() ? new ClusterView(vertx, CLUSTER_WAIT_MS) : null;
    this.sessionStore = SessionStoreClient.cluster(vertx).withTimeout(options.getRequestTimeoutMs());
  }

  /** Where a call goes: the chosen node's router in a cluster, the local router otherwise. */
  String address(JsonObject call, String op) {
    if (cluster != null) {
      String target = cluster.target(call.getString("session_id"));
      if (target != null) {
        return Addresses.node(target, op);
      }
    }
    return "execute".equals(op) ? Addresses.EXECUTE : Addresses.STREAM_OPEN;
  }

  /** Where a call goes, once the client knows the cluster (see {@link ClusterView#known}). */
  private Future<String> route(JsonObject call, String op) {
    if (cluster == null) {
      return Future.succeededFuture(address(call, op));
    }
    return cluster.known(vertx, CLUSTER_WAIT_MS).map(v -> address(call, op));
  }

  /** Stops following the cluster's heartbeats. */
  public void close() {
    if (cluster != null) {
      cluster.close();
    }
  }

  public static SnakepitClient create(Vertx vertx) {
    return new SnakepitClient(vertx, new ClientOptions());
  }

  public static SnakepitClient create(Vertx vertx, ClientOptions options) {
    return new SnakepitClient(vertx, options);
  }

  // ---- calls -----------------------------------------------------------------------------------

  /** Runs a tool in the default pool. */
  public Future<ExecuteResult> execute(String tool, JsonObject args) {
    return execute(new Call(tool).args(args));
  }

  /** Runs a call described by {@code call}: pool, timeout, session, affinity, correlation id. */
  public Future<ExecuteResult> execute(Call call) {
    JsonObject body = call.toJson(options);
    return route(body, "execute").compose(address -> request(address, body, call.correlationId()))
        .map(ExecuteResult::fromJson);
  }

  /** Streams a tool's items; the worker produces only as fast as the returned stream is read. */
  public ReadStream<Object> stream(String tool, JsonObject args) {
    return stream(new Call(tool).args(args));
  }

  /**
   * Streams the items of a call. The stream starts when a handler is set;
   * {@code pause()} and {@code fetch(n)} reach the Python generator, which
   * does not advance while it has no credit. An error ends the stream through
   * the exception handler with a {@link SnakepitException}.
   */
  public ReadStream<Object> stream(Call call) {
    JsonObject body = call.toJson(options);
    return new ToolStream(vertx, body, call.correlationId(), options.getStreamWindow(),
        () -> route(body, "stream.open"));
  }

  // ---- sessions --------------------------------------------------------------------------------

  /** Creates a session, or returns the existing one with that id ({@code id} may be null: generated). */
  public Future<JsonObject> createSession(String id, long ttlSeconds, JsonObject metadata) {
    JsonObject body = new JsonObject();
    if (id != null) {
      body.put("id", id);
    }
    if (ttlSeconds > 0) {
      body.put("ttl_s", ttlSeconds);
    }
    if (metadata != null) {
      body.put("metadata", metadata);
    }
    return sessions().create(body).map(r -> r.getJsonObject("session"));
  }

  /** A session (touching it); fails with {@code session_not_found}. */
  public Future<JsonObject> getSession(String id) {
    return sessions().get(id);
  }

  /** Deletes a session; true when it existed. */
  public Future<Boolean> deleteSession(String id) {
    return sessions().delete(id);
  }

  /** One page of sessions; pass the previous page's {@code next_cursor} for the next. */
  public Future<JsonObject> listSessions(String cursor, int limit) {
    return sessions().list(cursor, limit);
  }

  public Future<Object> getVariable(String id, String name) {
    return sessions().getVariable(id, name);
  }

  /** Sets a variable; completes with the session's new version once the write is durable. */
  public Future<Long> putVariable(String id, String name, Object value) {
    return sessions().putVariable(id, name, value);
  }

  public Future<Void> deleteVariable(String id, String name) {
    return sessions().deleteVariable(id, name).mapEmpty();
  }

  public Future<JsonObject> variables(String id) {
    return sessions().variables(id);
  }

  public Future<JsonObject> getProgram(String id, String programId) {
    return sessions().getProgram(id, programId);
  }

  public Future<Long> putProgram(String id, String programId, JsonObject program) {
    return sessions().putProgram(id, programId, program);
  }

  /**
   * Follows the system's events (session created/expired/deleted, worker
   * started/crashed/recycled, pool degraded/recovered, node joined/left/draining).
   * Unregister the returned consumer to stop.
   */
  public MessageConsumer<JsonObject> events(io.vertx.core.Handler<JsonObject> handler) {
    return vertx.eventBus().<JsonObject>consumer(Addresses.EVENTS, m -> handler.handle(m.body()));
  }

  // ---- plumbing --------------------------------------------------------------------------------

  /** The cluster's session store, with a fresh correlation id for the request. */
  private SessionStoreClient sessions() {
    return sessionStore.withCorrelationId(Headers.newCorrelationId());
  }

  private Future<JsonObject> request(String address, JsonObject body, String correlationId) {
    String cid = correlationId != null ? correlationId : Headers.newCorrelationId();
    DeliveryOptions opts = new DeliveryOptions().addHeader(Headers.CORRELATION_ID, cid)
        .setSendTimeout(options.getRequestTimeoutMs());
    // The node may be in another JVM: bytes cross as base64 with their paths in a header, both ways.
    return vertx.eventBus().<JsonObject>request(address, body, BytePaths.mark(opts, body)).map(BytePaths::restore)
        .recover(t -> Future.failedFuture(SnakepitException.from(t).withCorrelationId(cid)));
  }
}
