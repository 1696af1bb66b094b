package io.snakepit.session.sealing;

import io.snakepit.contract.SnakepitException;
import io.snakepit.session.Session;
import io.snakepit.session.SessionErrors;
import io.snakepit.session.SessionIds;
import io.snakepit.session.SessionListener;
import io.snakepit.session.SessionPage;
import io.snakepit.session.SessionSettings;
import io.snakepit.session.SessionStore;
import io.snakepit.session.Stamped;
import io.snakepit.session.sealing.ValueSealer.Kind;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link SessionStore} that seals every session value before it reaches the
 * store underneath and opens it on the way out, with AES-256-GCM keys from the
 * data-key file ({@code sessions.encryption.key-file}). The store underneath,
 * its entry processors, backups, split-brain merges and files see only
 * ciphertext; what stays in clear is listed in {@link SessionSealer}.
 *
 * <p>Every value a caller gets back was opened here: a value that does not
 * open (forged or changed by a process without the key, moved between
 * sessions or entries, or sealed with a key the file lacks) fails the
 * operation with {@code integrity_failed} and is logged; {@link #list} leaves
 * such a session out of its page and logs it.
 *
 * <p>Single-entry writes ({@code putVariable}, {@code putMetadata}) seal only
 * the new value and keep the store's own one-round-trip operation; the
 * generic {@link #update} opens, applies the function and seals only the
 * entries the function changed.
 */
public final class SealedSessionStore implements SessionStore {

  private static final Logger LOG = LoggerFactory.getLogger(SealedSessionStore.class);

  private final SessionStore inner;
  private final SessionSealer sealer;

  /**
   * @param inner       the store that keeps the sealed sessions
   * @param ring        the key ring in use (read at every operation: it changes when the key file does)
   * @param acceptClear whether values in clear are read as they are rather than refused: only for a store whose
   *                    storage no other process writes (the memory adapter's own file, written before encryption
   *                    was turned on); they are sealed when rewritten, or all at once by the rotation
   */
  public SealedSessionStore(SessionStore inner, Supplier<DataKeyRing> ring, boolean acceptClear) {
    this.inner = inner;
    this.sealer = new SessionSealer(ring, acceptClear);
  }

  /** The store underneath, which holds sealed sessions. */
  public SessionStore sealedStore() {
    return inner;
  }

  /** The same session with every stale or clear value sealed afresh with the active key; for the rotation. */
  Session resealed(Session sealed) {
    return sealer.resealed(sealed);
  }

  DataKeyRing ring() {
    return sealer.ring();
  }

  private Session open(Session s) {
    return sealer.open(s);
  }

  private String seal(String id, Kind kind, String name, Object value) {
    return sealer.sealValue(id, kind, name, value);
  }

  private static <T> Future<T> attempt(Supplier<Future<T>> op) {
    try {
      return op.get();
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
  }

  @Override
  public String name() {
    return inner.name();
  }

  @Override
  public Future<Created> create(String id, long ttlMs, JsonObject metadata) {
    return attempt(() -> {
      // The id is part of every value's AAD, so it must be known before the metadata is sealed.
      String sid = id == null ? SessionIds.generate() : id;
      JsonObject sealedMeta = null;
      if (metadata != null && !metadata.isEmpty()) {
        if (!SessionIds.isValid(sid)) {
          throw SessionErrors.badId(sid);
        }
        sealedMeta = new JsonObject();
        for (String k : metadata.fieldNames()) {
          inner.settings().limits().checkMetadataKey(k);
          sealedMeta.put(k, seal(sid, Kind.METADATA, k, metadata.getValue(k)));
        }
      }
      return inner.create(sid, ttlMs, sealedMeta).map(c -> new Created(open(c.session()), c.created()));
    });
  }

  @Override
  public Future<Session> get(String id) {
    return inner.get(id).map(this::open);
  }

  @Override
  public Future<Void> admitsCalls() {
    return inner.admitsCalls();
  }

  @Override
  public boolean majorityOnly() {
    return inner.majorityOnly();
  }

  @Override
  public Future<Boolean> exists(String id) {
    return inner.exists(id);
  }

  @Override
  public Future<Session> update(String id, UnaryOperator<Session> fn) {
    return inner.update(id, s -> {
      SessionSealer.Opened o = sealer.openTracked(s);
      Session next = fn.apply(o.session());
      return next == o.session() ? s : sealer.seal(next, o.sealedOf());
    }).map(this::open);
  }

  @Override
  public Future<Boolean> delete(String id) {
    return inner.delete(id);
  }

  @Override
  public Future<SessionPage> list(String cursor, int limit) {
    return inner.list(cursor, limit).map(p -> {
      List<Session> opened = new ArrayList<>(p.sessions().size());
      for (Session s : p.sessions()) {
        try {
          opened.add(open(s));
        } catch (SnakepitException e) {
          LOG.warn("Left session '{}' out of a listing: {}", s.id(), e.getMessage());
        }
      }
      return new SessionPage(opened, p.nextCursor());
    });
  }

  @Override
  public Future<Long> count() {
    return inner.count();
  }

  @Override
  public Future<Map<String, Long>> countByOwner(Function<String, String> ownerOf) {
    return inner.countByOwner(ownerOf);
  }

  @Override
  public Future<JsonObject> stats() {
    return inner.stats().map(st -> st.copy().put("encryption", new JsonObject()
        .put("active_key", sealer.ring().activeId()).put("keys", sealer.ring().ids().size())));
  }

  @Override
  public Future<JsonObject> health() {
    return inner.health();
  }

  @Override
  public Future<Session> merge(Session incoming) {
    return attempt(() -> inner.merge(sealer.seal(incoming, Map.of())).map(this::open));
  }

  @Override
  public Future<Void> close() {
    return inner.close();
  }

  @Override
  public void setListener(SessionListener listener) {
    inner.setListener(new SessionListener() {
      @Override
      public void created(Session session) {
        Session shown;
        try {
          shown = open(session);
        } catch (SnakepitException e) {
          shown = session; // listeners use the id only; the refusal is logged
        }
        listener.created(shown);
      }

      @Override
      public void deleted(String id) {
        listener.deleted(id);
      }

      @Override
      public void expired(String id) {
        listener.expired(id);
      }
    });
  }

  @Override
  public SessionSettings settings() {
    return inner.settings();
  }

  // ---- single-entry operations: the store's own, with the value sealed ------------------------

  @Override
  public Future<Session> putVariable(String id, String name, Object value) {
    return attempt(() -> {
      SessionSettings st = settings();
      st.limits().checkName("a variable name", name);
      st.limits().checkValue(value);
      return inner.putVariable(id, name, seal(id, Kind.VARIABLE, name, value)).map(this::open);
    });
  }

  @Override
  public Future<Long> increment(String id, String name, long by) {
    return inner.increment(id, name, by);
  }

  @Override
  public Future<Object> getVariable(String id, String name) {
    return inner.getVariable(id, name).compose(v -> {
      if (ValueSealer.isSealed(v)) {
        return attempt(() -> Future.succeededFuture(sealer.openValue(id, Kind.VARIABLE, name, v)));
      }
      // Not sealed: a counter (kept in clear), or a value that no node wrote. The whole session tells which.
      return get(id).map(s -> {
        Stamped e = s.variables().get(name);
        if (e == null || e.deleted()) {
          throw SessionErrors.noSuch("variable", name, id);
        }
        return e.value();
      });
    });
  }

  @Override
  public Future<Session> deleteVariable(String id, String name) {
    return inner.deleteVariable(id, name).map(this::open);
  }

  @Override
  public Future<Session> putProgram(String id, String programId, JsonObject doc) {
    return attempt(() -> {
      SessionSettings st = settings();
      st.limits().checkName("a program id", programId);
      st.limits().checkProgram(doc);
      String sealed = seal(id, Kind.PROGRAM, programId, doc);
      // The store's own putProgram takes a JSON object; a sealed program is a string, so it goes as an update.
      return inner.update(id, s -> {
        Session next = s.withProgram(programId, Stamped.of(sealed, st.clock().now(), st.nodeId()));
        st.limits().check(next);
        return next;
      }).map(this::open);
    });
  }

  @Override
  public Future<JsonObject> getProgram(String id, String programId) {
    return get(id).map(s -> {
      Stamped p = s.programs().get(programId);
      if (p == null || p.deleted()) {
        throw SessionErrors.noSuch("program", programId, id);
      }
      return (JsonObject) p.value();
    });
  }

  @Override
  public Future<Session> putMetadata(String id, String key, Object value) {
    return attempt(() -> {
      settings().limits().checkMetadataKey(key);
      Object stored = Session.SERVED_KEY.equals(key) ? value : seal(id, Kind.METADATA, key, value);
      return inner.putMetadata(id, key, stored).map(this::open);
    });
  }

  @Override
  public Future<Claim> claim(String id, String node) {
    return inner.claim(id, node).map(c -> new Claim(open(c.previous()), c.order()));
  }

  @Override
  public Future<Session> recordServedBy(String id, String node, String worker) {
    return inner.recordServedBy(id, node, worker).map(this::open);
  }
}
