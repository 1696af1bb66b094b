package io.snakepit.session;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Metrics;
import io.micrometer.core.instrument.Timer;
import io.snakepit.contract.Addresses;
import io.snakepit.contract.ClusterSubscriptions;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.Headers;
import io.snakepit.contract.Reserved;
import io.snakepit.contract.SessionCall;
import io.snakepit.contract.SessionOp;
import io.snakepit.contract.SnakepitException;
import io.snakepit.session.migration.ClusterMigration;
import io.snakepit.session.migration.StoreMigration;
import io.snakepit.session.sealing.DataKeyFile;
import io.snakepit.session.sealing.DataKeyRotation;
import io.snakepit.session.sealing.SealedSessionStore;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * Session storage, served over the event bus at
 * {@code snakepit.session.<op>} (and, for Python workers,
 * {@code snakepit.call.session.<op>}) from the configured
 * {@link SessionStore} adapter. Publishes session events on
 * {@link Addresses#EVENTS}.
 *
 * <p>Configuration: {@code {"node-id", "data-dir", "sessions": {"adapter", "limits",
 * "sweep-interval-ms", "tombstone-ttl-s", "encryption": {"key-file"}, "<adapter>": {...}}}}, read by
 * {@link SessionConfig#fromJson}. With {@code encryption.key-file}, the adapter's store is wrapped in a
 * {@link SealedSessionStore}, and {@link Addresses#DATA_KEY_ROTATION} starts and reports the re-encryption.
 *
 * <p>The adapter's store is always served through a {@link io.snakepit.session.migration.MigratingSessionStore}
 * (under the sealing, so that sealed values move between stores as they are): with no migration it passes every
 * operation through; {@link Addresses#MIGRATION} drives a live migration to another adapter, and the state file
 * in the data directory rebuilds it after a restart (docs/migration.md).
 */
public class SessionStoreVerticle extends VerticleBase {

  private SessionStore store;
  private final List<MessageConsumer<?>> consumers = new ArrayList<>();
  private ClusterSubscriptions clusterConsumers;
  private final MeterRegistry meterRegistry;
  private final List<Meter> meters = new ArrayList<>();
  private final Map<String, Timer> timers = new ConcurrentHashMap<>();
  private final OperationStats recent = new OperationStats();
  private final AtomicLong activeSessions = new AtomicLong();
  private long countTimer = -1;
  private DataKeyFile dataKeys;
  private DataKeyRotation rotation;
  private StoreMigration migration;
  /** The cluster-wide migration, when this node's store is shared by a cluster's nodes; else null. */
  private ClusterMigration clusterMigration;

  /** Records metrics into Micrometer's global registry (a no-op until a backend is added to it). */
  public SessionStoreVerticle() {
    this(Metrics.globalRegistry);
  }

  /** Records metrics of session operations into {@code registry}. */
  public SessionStoreVerticle(MeterRegistry registry) {
    this.meterRegistry = registry;
  }

  /** The store this verticle serves; available once started. */
  public SessionStore store() {
    return store;
  }

  @Override
  public Future<?> start() {
    SessionConfig cfg;
    try {
      cfg = SessionConfig.fromJson(config());
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
    return StoreMigration.open(vertx, cfg.factory().name(), cfg.settings(),
            () -> cfg.factory().create(vertx, cfg.settings(), cfg.adapterConfig()))
        .compose(m -> {
          migration = m;
          if (!ClusterMigration.applies(vertx, m)) {
            return Future.succeededFuture((SessionStore) m.store());
          }
          // Before serving: a node that starts while the cluster migrates writes both stores from its first write.
          clusterMigration = new ClusterMigration(vertx, cfg.settings().nodeId(), m, cfg.factory().name(),
              cfg.adapterConfig());
          return clusterMigration.adopt().onSuccess(v -> clusterMigration.watch())
              .recover(e -> m.close().compose(v -> m.store().close()).transform(x -> Future.failedFuture(
                  new SnakepitException(ErrorCode.STORE_UNAVAILABLE, "This node could not join the cluster's "
                      + "migration of the sessions: " + SnakepitException.from(e).getMessage()))))
              .map(v -> (SessionStore) m.store());
        })
        .compose(s -> cfg.dataKeyFile() == null ? Future.succeededFuture(s) : sealed(s, cfg.dataKeyFile()))
        .onSuccess(s -> {
      store = s;
      store.setListener(new EventPublisher());
      register();
      meters.add(Gauge.builder("snakepit.sessions.active", activeSessions, AtomicLong::get)
          .tags("adapter", store.name()).description("Live sessions in the store").register(meterRegistry));
      refreshCount();
      countTimer = vertx.setPeriodic(COUNT_REFRESH_MS, t -> refreshCount());
    });
  }

  /**
   * The router asks with its ring ({@code {"ring": {node: capacity}}}): the live
   * sessions per owner among this member's share of the store.
   */
  private Future<JsonObject> countByOwner(JsonObject b) {
    Map<String, Integer> members = new java.util.TreeMap<>();
    b.getJsonObject("ring", new JsonObject())
        .forEach(e -> members.put(e.getKey(), ((Number) e.getValue()).intValue()));
    io.snakepit.routing.HashRing ring = io.snakepit.routing.HashRing.of(members);
    io.snakepit.routing.SessionPlacement placement = io.snakepit.routing.SessionPlacement.of(vertx);
    // The router's own rule, so that the counts are of the sessions each node runs the calls of.
    return store.countByOwner(id -> java.util.Objects.requireNonNullElse(
        io.snakepit.routing.SessionPlacement.owner(placement, ring, id), "")).map(counts -> {
      JsonObject out = new JsonObject();
      counts.forEach((node, n) -> {
        if (!node.isEmpty()) {
          out.put(node, n);
        }
      });
      return new JsonObject().put("counts", out);
    });
  }

  /**
   * The store wrapped so that it seals every value with the keys of {@code keyFile}
   * ({@code sessions.encryption}); the memory adapter reads values in clear that its file held from before.
   */
  private Future<SessionStore> sealed(SessionStore plain, String keyFile) {
    return DataKeyFile.open(vertx, java.nio.file.Path.of(keyFile)).recover(e -> plain.close()
        .transform(v -> Future.<DataKeyFile>failedFuture(e))).map(keys -> {
      dataKeys = keys;
      SealedSessionStore s = new SealedSessionStore(plain, keys::ring, "memory".equals(plain.name()));
      rotation = new DataKeyRotation(s, keys::refresh);
      return s;
    });
  }

  /** {@link Addresses#DATA_KEY_ROTATION}: starts the re-encryption, or tells its progress. */
  private Future<JsonObject> rotation(JsonObject b) {
    if (rotation == null) {
      throw new SnakepitException(ErrorCode.BAD_REQUEST, "Session encryption is off: set "
          + "sessions.encryption.key-file to a data-key file (docs/security.md#session-data-encryption) to use "
          + "data-key rotation.");
    }
    String op = b.getString("op", "status");
    return switch (op) {
      case "start" -> rotation.start();
      case "status" -> Future.succeededFuture(rotation.status());
      default -> throw new SnakepitException(ErrorCode.BAD_REQUEST, "'op' must be \"start\" or \"status\", got \""
          + op + "\"");
    };
  }

  /**
   * {@link Addresses#MIGRATION}: {@code {"op": "start" | "status" | "verify" | "repair" | "cutover" | "commit" |
   * "rollback"}}.
   */
  private Future<JsonObject> migrate(JsonObject b) {
    String op = b.getString("op", "status");
    return switch (op) {
      case "start" -> migration.start(b);
      case "status" -> Future.succeededFuture(migration.status());
      case "verify" -> migration.verify();
      case "repair" -> migration.repair();
      case "cutover" -> migration.cutover();
      case "commit" -> migration.commit();
      case "rollback" -> migration.rollback();
      default -> throw new SnakepitException(ErrorCode.BAD_REQUEST, "'op' must be one of start, status, verify, "
          + "repair, cutover, commit, rollback; got \"" + op + "\"");
    };
  }

  private void refreshCount() {
    store.count().onSuccess(activeSessions::set);
  }

  @Override
  public Future<?> stop() {
    vertx.cancelTimer(countTimer);
    if (dataKeys != null) {
      dataKeys.close();
    }
    meters.forEach(meterRegistry::remove);
    meters.clear();
    consumers.forEach(MessageConsumer::unregister);
    if (clusterConsumers != null) {
      clusterConsumers.close();
    }
    if (clusterMigration != null) {
      clusterMigration.close();
    }
    Future<Void> migrating = migration == null ? Future.succeededFuture() : migration.close();
    return migrating.compose(v -> store == null ? Future.succeededFuture() : store.close());
  }

  private final class EventPublisher implements SessionListener {
    @Override
    public void created(Session session) {
      publish("session.created", new JsonObject().put("session_id", session.id()));
    }

    @Override
    public void deleted(String id) {
      publish("session.deleted", new JsonObject().put("session_id", id));
    }

    @Override
    public void expired(String id) {
      publish("session.expired", new JsonObject().put("session_id", id));
    }

    private void publish(String type, JsonObject event) {
      event.put("type", type).put("node", store.settings().nodeId()).put("at", System.currentTimeMillis());
      vertx.eventBus().publish(Addresses.EVENTS, event);
    }
  }

  // ---- operations ------------------------------------------------------------------------------

  private void register() {
    clusterConsumers = new ClusterSubscriptions(vertx);
    Map<SessionOp, Function<JsonObject, Future<?>>> ops = new EnumMap<>(SessionOp.class);
    ops.put(SessionOp.CREATE, b -> store.create(optString(b, "id"), ttlMs(b), optObject(b, "metadata"))
        .map(c -> new JsonObject().put("session", c.session().toJson()).put("created", c.created())));
    ops.put(SessionOp.GET, b -> store.get(id(b)).map(Session::toJson));
    // ROUTE admits a call in the session: refused where the store says no call may run (a minority side); with
    // "node", it claims the session for that node and answers the route as it was before.
    ops.put(SessionOp.ROUTE, b -> {
      String node = optString(b, "node");
      return store.admitsCalls().compose(v -> node == null
          ? store.get(id(b)).map(s -> SessionRoute.of(s, store.majorityOnly()).toJson())
          : store.claim(id(b), node).map(c -> SessionRoute.of(c.previous(), c.order(), store.majorityOnly())
              .toJson()));
    });
    ops.put(SessionOp.EXISTS, b -> store.exists(id(b)).map(e -> new JsonObject().put("exists", e)));
    ops.put(SessionOp.DELETE, b -> store.delete(id(b)).map(d -> new JsonObject().put("deleted", d)));
    ops.put(SessionOp.LIST, b -> store.list(optString(b, "cursor"), limit(b)).map(p -> page(p, false)));
    ops.put(SessionOp.EXPORT, b -> store.list(optString(b, "cursor"), limit(b)).map(p -> page(p, true)));
    ops.put(SessionOp.IMPORT, this::importSessions);
    ops.put(SessionOp.COUNT, b -> store.count().map(n -> new JsonObject().put("count", n)));
    ops.put(SessionOp.STATS, b -> store.stats().map(st -> st.copy().put("recent", recent.snapshot())));
    ops.put(SessionOp.HEALTH, b -> store.health());
    ops.put(SessionOp.VAR_GET, b -> store.getVariable(id(b), name(b, "name"))
        .map(v -> new JsonObject().put("value", v)));
    ops.put(SessionOp.VAR_PUT, b -> store.putVariable(id(b), name(b, "name"), b.getValue("value"))
        .map(this::version));
    ops.put(SessionOp.VAR_DELETE, b -> store.deleteVariable(id(b), name(b, "name")).map(this::version));
    ops.put(SessionOp.VAR_INCREMENT, b -> store.increment(id(b), name(b, "name"), by(b))
        .map(v -> new JsonObject().put("value", v)));
    ops.put(SessionOp.VARS, b -> store.get(id(b)).map(s -> new JsonObject().put("variables", s.variablesJson())));
    ops.put(SessionOp.PROGRAM_GET, b -> store.getProgram(id(b), name(b, "program_id"))
        .map(p -> new JsonObject().put("program", p)));
    ops.put(SessionOp.PROGRAM_PUT, b -> store.putProgram(id(b), name(b, "program_id"), program(b))
        .map(this::version));
    ops.put(SessionOp.META_PUT, b -> store.putMetadata(id(b), name(b, "key"), b.getValue("value"))
        .map(this::version));
    ops.put(SessionOp.SERVED, b -> store.recordServedBy(id(b), optString(b, "node"), optString(b, "worker"))
        .map(this::version));
    // Storage of handed-off Python-side state; the supervisor's SessionHandoff decides when (see its Javadoc).
    ops.put(SessionOp.HANDOFF_PUT, this::putHandoff);
    ops.put(SessionOp.HANDOFF_GET, b -> store.get(id(b)).map(s -> {
      StoredHandoff h = StoredHandoff.of(s, true);
      return h == null ? new JsonObject() : new JsonObject().put("handoff", h.toJson());
    }));
    ops.put(SessionOp.HANDOFF_CLEAR, b -> {
      SessionSettings st = store.settings();
      return store.update(id(b), s -> s.hasHandoff()
          ? s.withMetadata(Session.HANDOFF_KEY, Stamped.tombstone(st.clock().now(), st.nodeId())) : s)
          .map(this::version);
    });
    ops.put(SessionOp.COUNT_BY_OWNER, this::countByOwner);
    consumers.add(vertx.eventBus().<JsonObject>localConsumer(Addresses.DATA_KEY_ROTATION,
        m -> serve("data-keys.rotate", m, this::rotation)));
    consumers.add(vertx.eventBus().<JsonObject>localConsumer(Addresses.MIGRATION,
        m -> serve("migration", m, clusterMigration == null ? this::migrate : clusterMigration::step)));
    if (clusterMigration != null) {
      clusterConsumers.add(ClusterMigration.address(store.settings().nodeId()),
          m -> serve("migration", m, clusterMigration::onNodeAddress));
    }
    // Node components use the local addresses; applications elsewhere in the cluster the cluster-wide ones.
    ops.forEach((op, fn) -> {
      consumers.add(vertx.eventBus().<JsonObject>localConsumer(op.address(), m -> serve(op.wireName(), m, fn)));
      clusterConsumers.add(op.clusterAddress(), m -> serve(op.wireName(), m, fn));
    });
    registerPythonCalls();
  }

  private Future<JsonObject> putHandoff(JsonObject b) {
    Object data = b.getValue("data");
    if (!(data instanceof String d)) {
      throw new SnakepitException(ErrorCode.BAD_REQUEST, "'data' must be the state, base64-encoded");
    }
    if (d.length() > store.settings().limits().maxProgramBytes() * 4 / 3 + 4) {
      throw new SnakepitException(ErrorCode.LIMIT_EXCEEDED, "Exported state of " + d.length() * 3 / 4
          + " bytes exceeds sessions.limits.max-program-bytes");
    }
    SessionSettings st = store.settings();
    JsonObject blob = new StoredHandoff(d, optString(b, "from_node"), optString(b, "from_worker"),
        b.getBoolean("checkpoint", false)).toJson();
    return store.update(id(b), s -> s.withMetadata(Session.HANDOFF_KEY,
        Stamped.of(blob, st.clock().now(), st.nodeId()))).map(this::version);
  }

  /**
   * The operations Python tools reach through {@code ctx.session}. Each takes
   * {@code session_id} and answers the bare value; see docs/protocol.md. Reads
   * of one variable or metadata entry read only that, where the adapter can.
   */
  private void registerPythonCalls() {
    Map<SessionCall, Function<JsonObject, Future<?>>> calls = new EnumMap<>(SessionCall.class);
    calls.put(SessionCall.GET_VAR, b -> store.getVariable(id(b), name(b, "name"))
        .recover(t -> SnakepitException.from(t).errorCode() == ErrorCode.NOT_FOUND_IN_SESSION
            ? Future.succeededFuture() : Future.failedFuture(t)));
    calls.put(SessionCall.PUT_VAR, b -> store.putVariable(id(b), name(b, "name"), b.getValue("value"))
        .map(s -> (Object) null));
    calls.put(SessionCall.DELETE_VAR, b -> store.deleteVariable(id(b), name(b, "name")).map(s -> (Object) null));
    calls.put(SessionCall.INCR, b -> store.increment(id(b), name(b, "name"), by(b)));
    calls.put(SessionCall.VARS, b -> store.get(id(b)).map(Session::variablesJson));
    calls.put(SessionCall.GET_META, b -> {
      String key = name(b, "key");
      return store.get(id(b)).map(s -> {
        Stamped v = Reserved.isReserved(key) ? null : s.metadata().get(key);
        return v == null || v.deleted() ? null : v.value();
      });
    });
    calls.put(SessionCall.PUT_META, b -> store.putMetadata(id(b), name(b, "key"), b.getValue("value"))
        .map(s -> (Object) null));
    calls.forEach((call, fn) -> consumers.add(vertx.eventBus().<JsonObject>localConsumer(
        call.address(), m -> serve(call.op(), m, fn))));
  }

  private void serve(String op, Message<JsonObject> m, Function<JsonObject, Future<?>> fn) {
    String cid = m.headers().get(Headers.CORRELATION_ID);
    long started = System.nanoTime();
    Future<?> result;
    try {
      JsonObject body = m.body();
      if (body == null) {
        throw new SnakepitException(ErrorCode.BAD_REQUEST, "the message body must be a JSON object");
      }
      result = fn.apply(body);
    } catch (RuntimeException e) {
      result = Future.failedFuture(e);
    }
    result.onComplete(ar -> {
      measure(op, started, ar.succeeded() ? null : SnakepitException.from(ar.cause()).errorCode());
      if (ar.succeeded()) {
        Object v = ar.result();
        m.reply(v instanceof JsonObject || v instanceof JsonArray || v instanceof String || v instanceof Number
            || v instanceof Boolean || v == null ? v : String.valueOf(v));
      } else {
        SnakepitException.from(ar.cause()).withCorrelationId(cid).failMessage(m);
      }
    });
  }

  /**
   * Records an operation's latency and outcome: in the meters, and in the window
   * that {@code /health/sessions} judges. Monitoring operations (stats, health) are
   * left out so that watching the store does not change its figures. Only failures
   * on the store's side (5xx codes such as {@code store_unavailable}) count as errors
   * there; a caller's mistake (a missing session, a bad id) does not.
   */
  private void measure(String op, long startedNanos, ErrorCode failure) {
    if (UNMEASURED.contains(op)) {
      return;
    }
    long nanos = System.nanoTime() - startedNanos;
    String outcome = failure == null ? "ok" : failure.code();
    Timer timer = timers.computeIfAbsent(op + '|' + outcome, k -> {
      Timer t = Timer.builder("snakepit.session.operation.duration")
          .tags("operation", op, "adapter", store.name(), "outcome", outcome)
          .description("Latency of session store operations served over the event bus")
          .serviceLevelObjectives(SESSION_BUCKETS).register(meterRegistry);
      meters.add(t);
      return t;
    });
    timer.record(nanos, TimeUnit.NANOSECONDS);
    recent.record(nanos, failure != null && failure.httpStatus() >= 500);
  }

  private static final java.util.Set<String> UNMEASURED = java.util.Set.of("stats", "health", "count", "migration");
  private static final long COUNT_REFRESH_MS = 1000;
  /** Bucket bounds of the session-operation histogram: from 10 µs (in-process) to 1 s (a troubled replica). */
  private static final Duration[] SESSION_BUCKETS = {
      Duration.ofNanos(10_000), Duration.ofNanos(50_000), Duration.ofNanos(100_000), Duration.ofNanos(250_000),
      Duration.ofNanos(500_000), Duration.ofMillis(1), Duration.ofMillis(2), Duration.ofMillis(5),
      Duration.ofMillis(10), Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100),
      Duration.ofMillis(250), Duration.ofSeconds(1)};

  private JsonObject version(Session s) {
    return new JsonObject().put("version", s.version());
  }

  private static JsonObject page(SessionPage p, boolean full) {
    JsonArray items = new JsonArray();
    p.sessions().forEach(s -> items.add(full ? s.toExportJson() : s.toJson()));
    JsonObject out = new JsonObject().put("sessions", items);
    if (p.nextCursor() != null) {
      out.put("next_cursor", p.nextCursor());
    }
    return out;
  }

  /**
   * Merges a batch of sessions in storage form; invalid ones are reported, not stored. A valid
   * session whose merge changes nothing the caller can see is counted as skipped, with its reason:
   * {@value #SKIPPED_DELETED} when the store holds a tombstone for its id (it was deleted after the
   * export was taken; a delete wins over any copy for {@code tombstone-ttl-s}), {@value #SKIPPED_EXPIRED}
   * when its TTL ran out before the import (an expired session is a missing one). A session that
   * exists already is merged entry by entry (the newer write wins) and counts as imported.
   */
  private Future<JsonObject> importSessions(JsonObject b) {
    JsonArray items = b.getJsonArray("sessions");
    if (items == null) {
      throw new SnakepitException(ErrorCode.BAD_REQUEST, "'sessions' must be a list of sessions in export form");
    }
    List<Future<Session>> merges = new ArrayList<>();
    List<Integer> mergedIndexes = new ArrayList<>();
    List<Session> incoming = new ArrayList<>();
    JsonArray errors = new JsonArray();
    for (int i = 0; i < items.size(); i++) {
      try {
        Object item = items.getValue(i);
        if (!(item instanceof JsonObject o)) {
          throw new IllegalArgumentException("not a JSON object");
        }
        Session s = Session.fromStorageJson(o);
        store.settings().limits().check(s);
        merges.add(store.merge(s));
        mergedIndexes.add(i);
        incoming.add(s);
      } catch (RuntimeException e) {
        errors.add(new JsonObject().put("index", i).put("message", e.getMessage()));
      }
    }
    return Future.join(merges).transform(ar -> {
      long now = System.currentTimeMillis();
      int ok = 0;
      JsonObject reasons = new JsonObject();
      JsonArray skipped = new JsonArray();
      for (int i = 0; i < merges.size(); i++) {
        Future<Session> merge = merges.get(i);
        if (merge.failed()) {
          errors.add(new JsonObject().put("index", mergedIndexes.get(i)).put("message", merge.cause().getMessage()));
          continue;
        }
        String reason = skipReason(incoming.get(i), merge.result(), now);
        if (reason == null) {
          ok++;
        } else {
          reasons.put(reason, reasons.getInteger(reason, 0) + 1);
          skipped.add(new JsonObject().put("index", mergedIndexes.get(i)).put("id", incoming.get(i).id())
              .put("reason", reason));
        }
      }
      return Future.succeededFuture(new JsonObject().put("imported", ok).put("skipped", skipped.size())
          .put("skipped_reasons", reasons).put("skipped_sessions", skipped)
          .put("failed", errors.size()).put("errors", errors));
    });
  }

  /** Skipped: the store holds a tombstone for the session's id, newer than the imported copy. */
  public static final String SKIPPED_DELETED = "deleted";
  /** Skipped: the imported copy's TTL had run out; an expired session is not brought back. */
  public static final String SKIPPED_EXPIRED = "expired";

  /**
   * Why an import of {@code in} left nothing the caller can read, judged on what the store's
   * {@link SessionStore#merge} completed with; null when the session is there after the import.
   */
  static String skipReason(Session in, Session merged, long now) {
    if (merged == null) {
      return null;
    }
    if (merged.isDeleted()) {
      // A delete the import itself carried (a tombstone in storage form) took effect: that is an import.
      return in.isDeleted() ? null : SKIPPED_DELETED;
    }
    return merged.isExpired(now) ? SKIPPED_EXPIRED : null;
  }

  // ---- argument checks: every bad field is a bad_request naming it -----------------------------

  private static String id(JsonObject b) {
    Object v = b.getValue("id", b.getValue("session_id"));
    if (!(v instanceof String s) || !SessionIds.isValid(s)) {
      throw SessionErrors.badId(v == null ? null : String.valueOf(v));
    }
    return s;
  }

  private static String name(JsonObject b, String key) {
    Object v = b.getValue(key);
    if (!(v instanceof String s) || s.isEmpty()) {
      throw new SnakepitException(ErrorCode.BAD_REQUEST, "'" + key + "' must be a non-empty string");
    }
    return s;
  }

  private static String optString(JsonObject b, String key) {
    Object v = b.getValue(key);
    if (v != null && !(v instanceof String)) {
      throw new SnakepitException(ErrorCode.BAD_REQUEST, "'" + key + "' must be a string");
    }
    return (String) v;
  }

  private static JsonObject optObject(JsonObject b, String key) {
    Object v = b.getValue(key);
    if (v != null && !(v instanceof JsonObject)) {
      throw new SnakepitException(ErrorCode.BAD_REQUEST, "'" + key + "' must be a JSON object");
    }
    return (JsonObject) v;
  }

  private static JsonObject program(JsonObject b) {
    Object v = b.getValue("program");
    if (!(v instanceof JsonObject o)) {
      throw new SnakepitException(ErrorCode.BAD_REQUEST, "'program' must be a JSON object");
    }
    return o;
  }

  private static long ttlMs(JsonObject b) {
    Object v = b.getValue("ttl_s");
    if (v == null) {
      return 0;
    }
    if (!(v instanceof Number n) || n.doubleValue() <= 0 || n.doubleValue() > 1e10) {
      throw new SnakepitException(ErrorCode.BAD_REQUEST, "'ttl_s' must be a positive number of seconds");
    }
    return Math.max(1, Math.round(n.doubleValue() * 1000));
  }

  /** A counter's amount: {@code by}, a whole number, 1 when absent. */
  static long by(JsonObject b) {
    return Counter.amount(b.getValue("by", 1));
  }

  private static int limit(JsonObject b) {
    Object v = b.getValue("limit", 100);
    if (!(v instanceof Number n) || n.intValue() < 1 || n.intValue() > 1000) {
      throw new SnakepitException(ErrorCode.BAD_REQUEST, "'limit' must be a whole number from 1 to 1000");
    }
    return n.intValue();
  }
}
