package io.snakepit.session;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.util.function.UnaryOperator;

/**
 * Where sessions live: the service-provider interface that every session
 * adapter implements ({@code memory}, {@code hazelcast}, or your own, found
 * by {@link java.util.ServiceLoader} through a {@link SessionStoreFactory}).
 *
 * <p>Every method returns a {@link Future} and must never block the calling
 * event loop. Failures are {@link io.snakepit.contract.SnakepitException}s
 * with the codes named below. Implementations must pass the compliance kit,
 * {@code io.snakepit.session.compliance.SessionStoreCompliance}.
 *
 * <p>Guarantees shared by all methods:
 * <ul>
 *   <li>An expired session behaves exactly like a missing one, even before the
 *       sweep has removed it.</li>
 *   <li>A change is acknowledged (its future completes) only once it is as
 *       durable as the adapter's configuration promises.</li>
 *   <li>Every change to a session's content increments its version by one.</li>
 *   <li>Limits ({@link SessionLimits}) are checked before anything changes; a
 *       change past a limit fails with {@code limit_exceeded} and changes nothing.</li>
 * </ul>
 */
public interface SessionStore {

  /** The adapter's name, as configured ({@code memory}, {@code hazelcast}, ...). */
  String name();

  /**
   * Creates a session, or returns the existing live one with that id: idempotent.
   * Concurrent creates of one id all succeed and all see the same session;
   * exactly one of them reports {@link Created#created()} true.
   *
   * @param id       the id; must be valid ({@link SessionIds#isValid}), else {@code bad_request}
   * @param ttlMs    time to live after the last access; 0 = the configured default;
   *                 above the configured maximum fails with {@code bad_request}
   * @param metadata initial metadata (string keys, JSON values), may be null
   */
  Future<Created> create(String id, long ttlMs, JsonObject metadata);

  /** The result of {@link #create}: the session, and whether this call created it. */
  record Created(Session session, boolean created) {
  }

  /**
   * Reads a session and slides its TTL ("touches" it). Fails with
   * {@code session_not_found} when it is missing or expired.
   *
   * <p>Touches are coarse where writes are costly: an adapter may skip
   * recording an access that comes within {@link SessionLimits#touchGranularityMs()}
   * of the last recorded one, so that reads do not all become writes. The TTL
   * therefore slides in steps of at most that granularity; a session is never
   * expired earlier than {@code ttl - granularity} after its last access.
   */
  Future<Session> get(String id);

  /**
   * Whether this node may run a call in a session now: completes when it may,
   * fails with a typed error when it must not ({@code minority_partition} on the
   * minority side of a partition with {@code partition-mode: majority}, where the
   * majority may be serving the session meanwhile). Asked before every call in
   * a session, so it must be cheap and must not touch the store's data. An
   * adapter with no such constraint completes at once, the default.
   */
  default Future<Void> admitsCalls() {
    return Future.succeededFuture();
  }

  /**
   * Whether this store runs calls in sessions only on a partition's majority side ({@code partition-mode:
   * majority}). Then a node that cannot take a session over from a node still in its cluster refuses the call
   * ({@code owner_unavailable}) rather than run it beside that node's calls: in a partial partition both cut
   * nodes can see a majority through the node that sees both. An adapter with no partitions answers false, the
   * default.
   */
  default boolean majorityOnly() {
    return false;
  }

  /**
   * Whether the nodes of a cluster share this store (every node reads and writes the same sessions), so that a
   * live migration of it must move every node together. An adapter each node keeps to itself answers false,
   * the default.
   */
  default boolean shared() {
    return false;
  }

  /** Whether a live session with this id exists. Does not touch it. */
  Future<Boolean> exists(String id);

  /**
   * Changes a session atomically: applies {@code fn} to the current copy and
   * stores the result if nobody changed the session in between; otherwise
   * retries with the fresh copy, at most {@link SessionLimits#maxUpdateRetries()}
   * times, then fails with {@code conflict}. {@code fn} must be a pure function:
   * it may run several times. It may throw a
   * {@link io.snakepit.contract.SnakepitException} to abort with no change.
   * Fails with {@code session_not_found} when the session is missing or expired.
   * No update is ever lost: two concurrent updates both take effect, in some order.
   */
  Future<Session> update(String id, UnaryOperator<Session> fn);

  /**
   * Deletes a session; idempotent. Completes with true when it existed. The
   * store remembers the delete (a tombstone) for a while, so that a stale copy
   * cannot bring the session back; a delete racing an update wins or loses as
   * a whole, never leaving a half-updated session. A delete (and an expiry)
   * is announced as an event, on which the node's supervisor tells the workers
   * holding the session's Python-side state, through {@code on_session_closed}.
   */
  Future<Boolean> delete(String id);

  /**
   * One page of live sessions, in id order, starting after {@code cursor}
   * (null for the first page). Never loads the whole store. Paging through a
   * store that changes while it is paged returns every session that existed
   * for the whole paging exactly once; sessions created or deleted meanwhile
   * may or may not appear.
   */
  Future<SessionPage> list(String cursor, int limit);

  /** How many live sessions there are (may lag by the sweep interval for expired ones). */
  Future<Long> count();

  /**
   * Counts the live sessions whose primary copy this member holds, grouped by
   * {@code ownerOf(id)}: summed over every member, the sessions each node owns
   * on the routing ring ({@code GET /v1/cluster}). Scans this member's data,
   * off the event loop; callers ask seldom (every few seconds). An adapter
   * that cannot tell completes with an empty map, the default.
   */
  default Future<java.util.Map<String, Long>> countByOwner(java.util.function.Function<String, String> ownerOf) {
    return Future.succeededFuture(java.util.Map.of());
  }

  /** Figures for {@code /health/sessions}: at least {@code count} and {@code adapter}. */
  Future<JsonObject> stats();

  /** {@code {"status": "UP"|"DOWN", ...}}; DOWN when the store cannot serve. */
  Future<JsonObject> health();

  /**
   * Merges a copy of a session that came from elsewhere (an import, a replica
   * after a partition) with the stored one, by {@link Session#merge}; stores the
   * session if there is none. Tombstones are honoured.
   */
  Future<Session> merge(Session incoming);

  /** Releases the store's resources; pending writes are flushed first. */
  Future<Void> close();

  /** Receives the store's events; set once, before any other call. */
  void setListener(SessionListener listener);

  /** The settings the store was made with. */
  SessionSettings settings();

  // ---- operations built on update(); adapters may override them with cheaper ones ------------

  /**
   * Sets a variable, stamped with this node's clock. {@code limit_exceeded} past a limit; {@code bad_request}
   * when the variable is a counter ({@link #increment}).
   */
  default Future<Session> putVariable(String id, String name, Object value) {
    SessionSettings st = settings();
    try {
      st.limits().checkName("a variable name", name);
      st.limits().checkValue(value);
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
    return update(id, s -> {
      s.checkNotCounter(name);
      Session next = s.withVariable(name, Stamped.of(value, st.clock().now(), st.nodeId()));
      st.limits().check(next);
      return next;
    });
  }

  /**
   * Adds {@code by} (negative to subtract) to the counter {@code name}, starting it at zero when the variable is
   * not set, and completes with the counter's new value. A counter is a CRDT ({@link Counter}): increments
   * acknowledged on both sides of a partition all count after the heal. {@code bad_request} when the variable
   * holds a value that is not a counter; {@code limit_exceeded} past a limit or past a 64-bit value.
   */
  default Future<Long> increment(String id, String name, long by) {
    SessionSettings st = settings();
    try {
      st.limits().checkName("a variable name", name);
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
    return update(id, s -> {
      Session next = s.withIncrement(name, by, st.clock().now(), st.nodeId());
      st.limits().check(next);
      return next;
    }).map(s -> ((Number) s.variable(name)).longValue());
  }

  /** A variable's value; {@code not_found_in_session} when it is not set. */
  default Future<Object> getVariable(String id, String name) {
    return get(id).map(s -> {
      if (!s.hasVariable(name)) {
        throw SessionErrors.noSuch("variable", name, id);
      }
      return s.variable(name);
    });
  }

  /**
   * Deletes a variable; idempotent (deleting a missing variable changes nothing). {@code bad_request} for a
   * counter, which goes with its session.
   */
  default Future<Session> deleteVariable(String id, String name) {
    SessionSettings st = settings();
    return update(id, s -> {
      s.checkNotCounter(name);
      return s.hasVariable(name) ? s.withVariable(name, Stamped.tombstone(st.clock().now(), st.nodeId())) : s;
    });
  }

  /** Stores a program document under an id. */
  default Future<Session> putProgram(String id, String programId, JsonObject doc) {
    SessionSettings st = settings();
    try {
      st.limits().checkName("a program id", programId);
      st.limits().checkProgram(doc);
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
    return update(id, s -> {
      Session next = s.withProgram(programId, Stamped.of(doc, st.clock().now(), st.nodeId()));
      st.limits().check(next);
      return next;
    });
  }

  /** A program document; {@code not_found_in_session} when there is none. */
  default Future<JsonObject> getProgram(String id, String programId) {
    return get(id).map(s -> {
      Stamped p = s.programs().get(programId);
      if (p == null || p.deleted()) {
        throw SessionErrors.noSuch("program", programId, id);
      }
      return (JsonObject) p.value();
    });
  }

  /** Sets one metadata entry. */
  default Future<Session> putMetadata(String id, String key, Object value) {
    SessionSettings st = settings();
    try {
      st.limits().checkMetadataChange(key);
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
    return update(id, s -> {
      Session next = s.withMetadata(key, Stamped.of(value, st.clock().now(), st.nodeId()));
      st.limits().check(next);
      return next;
    });
  }

  /**
   * What {@link #claim} found.
   *
   * @param previous the session as it was before the claim
   * @param order    the claim's place among claims of the session: its version just after the claim. A claim by a
   *                 node that is not the session's last node raises the version, so it orders after every call
   *                 admitted before it, wherever
   */
  record Claim(Session previous, long order) {
  }

  /**
   * Before a call runs in the session: records {@code node} as the node that now serves it (its last node, with
   * no worker yet) unless it is already, and completes with the session as it was before. Touches the session.
   * The session's next call on another node then asks this node for its Python-side state, even while this
   * call still runs, and that node waits for it (see {@code io.snakepit.supervisor.SessionHandoff}).
   * {@code session_not_found} when it is missing.
   */
  default Future<Claim> claim(String id, String node) {
    return get(id).compose(s -> {
      if (node.equals(s.lastNode())) {
        return Future.succeededFuture(new Claim(s, s.version()));
      }
      java.util.concurrent.atomic.AtomicReference<Session> before = new java.util.concurrent.atomic.AtomicReference<>();
      return update(id, current -> {
        before.set(current);
        return node.equals(current.lastNode()) ? current
            : current.servedBy(node, null, settings().clock().now(), settings().nodeId());
      }).map(after -> new Claim(before.get(), after.version()));
    });
  }

  /**
   * Records the node and worker that served a call in the session, for affinity; changes nothing when another
   * node has claimed the session since and not served it yet ({@link Session#afterServing}).
   */
  default Future<Session> recordServedBy(String id, String node, String worker) {
    return update(id, s -> s.afterServing(node, worker, settings().clock().now(), settings().nodeId()));
  }
}
