package io.snakepit.session.custom;

import io.snakepit.contract.SnakepitException;
import io.snakepit.session.Session;
import io.snakepit.session.SessionErrors;
import io.snakepit.session.SessionIds;
import io.snakepit.session.SessionListener;
import io.snakepit.session.SessionPage;
import io.snakepit.session.SessionSettings;
import io.snakepit.session.SessionStore;
import io.snakepit.session.Stamped;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.function.UnaryOperator;

/**
 * A minimal third-party adapter, as an example and as a second subject of the
 * compliance kit: every session in one {@link TreeMap} behind one lock, no
 * persistence. {@code fn} of {@link #update} runs outside the lock, and the
 * result is stored only if the session is still the copy {@code fn} saw.
 */
public final class SynchronizedMapSessionStore implements SessionStore {

  private final SessionSettings settings;
  private final Object lock = new Object();
  private final TreeMap<String, Session> live = new TreeMap<>();
  private final Map<String, Session> tombstones = new HashMap<>();
  private volatile SessionListener listener = SessionListener.NONE;

  public SynchronizedMapSessionStore(SessionSettings settings) {
    this.settings = settings;
  }

  private volatile String refusedPrefix;

  /** Makes every merge of a session whose id starts with {@code prefix} fail with {@code bad_request}; null: none. */
  public void refuseMergesOf(String prefix) {
    this.refusedPrefix = prefix;
  }

  @Override
  public String name() {
    return SynchronizedMapSessionStoreFactory.NAME;
  }

  @Override
  public SessionSettings settings() {
    return settings;
  }

  @Override
  public void setListener(SessionListener listener) {
    this.listener = listener;
  }

  /** The live session, or null; an expired one is dropped on the way. Call under the lock. */
  private Session liveOrNull(String id, long now) {
    Session s = live.get(id);
    if (s != null && s.isExpired(now)) {
      live.remove(id);
      listener.expired(id);
      return null;
    }
    return s;
  }

  private int liveCount(long now) {
    live.values().removeIf(s -> s.isExpired(now));
    return live.size();
  }

  @Override
  public Future<Created> create(String id, long ttlMs, JsonObject metadata) {
    String sid = id == null ? SessionIds.generate() : id;
    long now = System.currentTimeMillis();
    Session fresh;
    try {
      if (!SessionIds.isValid(sid)) {
        throw SessionErrors.badId(sid);
      }
      fresh = Session.create(sid, now, settings.limits().ttl(ttlMs));
      if (metadata != null) {
        long hlc = settings.clock().now();
        Map<String, Stamped> meta = new HashMap<>();
        for (String k : metadata.fieldNames()) {
          settings.limits().checkName("a metadata key", k);
          meta.put(k, Stamped.of(metadata.getValue(k), hlc, settings.nodeId()));
        }
        fresh = new Session(sid, now, now, fresh.ttlMs(), 1, null, null, meta, null, null, 0);
        settings.limits().check(fresh);
      }
    } catch (SnakepitException e) {
      return Future.failedFuture(e);
    }
    synchronized (lock) {
      Session existing = liveOrNull(sid, now);
      if (existing != null) {
        return Future.succeededFuture(new Created(existing, false));
      }
      if (liveCount(now) >= settings.limits().maxSessions()) {
        return Future.failedFuture(SessionErrors.tooMany(settings.limits().maxSessions()));
      }
      live.put(sid, fresh);
      tombstones.remove(sid);
    }
    listener.created(fresh);
    return Future.succeededFuture(new Created(fresh, true));
  }

  @Override
  public Future<Session> get(String id) {
    long now = System.currentTimeMillis();
    synchronized (lock) {
      Session s = liveOrNull(id, now);
      if (s == null) {
        return Future.failedFuture(SessionErrors.notFound(id));
      }
      if (now - s.accessedAt() >= settings.limits().touchGranularityMs()) {
        s = s.touched(now);
        live.put(id, s);
      }
      return Future.succeededFuture(s);
    }
  }

  @Override
  public Future<Boolean> exists(String id) {
    synchronized (lock) {
      return Future.succeededFuture(liveOrNull(id, System.currentTimeMillis()) != null);
    }
  }

  @Override
  public Future<Session> update(String id, UnaryOperator<Session> fn) {
    int retries = settings.limits().maxUpdateRetries();
    for (int attempt = 0; attempt <= retries; attempt++) {
      long now = System.currentTimeMillis();
      Session current;
      synchronized (lock) {
        current = liveOrNull(id, now);
      }
      if (current == null) {
        return Future.failedFuture(SessionErrors.notFound(id));
      }
      Session next;
      try {
        next = fn.apply(current);
      } catch (RuntimeException e) {
        return Future.failedFuture(e);
      }
      if (next == current) {
        return Future.succeededFuture(current);
      }
      next = next.touched(now);
      synchronized (lock) {
        if (live.get(id) == current) {
          live.put(id, next);
          return Future.succeededFuture(next);
        }
      }
    }
    return Future.failedFuture(SessionErrors.conflict(id, retries));
  }

  @Override
  public Future<Boolean> delete(String id) {
    long now = System.currentTimeMillis();
    synchronized (lock) {
      Session s = liveOrNull(id, now);
      if (s == null) {
        return Future.succeededFuture(false);
      }
      live.remove(id);
      tombstones.put(id, s.deleted(settings.clock().now()));
    }
    listener.deleted(id);
    return Future.succeededFuture(true);
  }

  @Override
  public Future<SessionPage> list(String cursor, int limit) {
    int n = Math.max(1, Math.min(limit, 1000));
    long now = System.currentTimeMillis();
    List<Session> page = new ArrayList<>();
    synchronized (lock) {
      NavigableMap<String, Session> view = cursor == null ? live : live.tailMap(cursor, false);
      for (Session s : view.values()) {
        if (s.isExpired(now)) {
          continue;
        }
        if (page.size() == n) {
          return Future.succeededFuture(new SessionPage(page, page.get(n - 1).id()));
        }
        page.add(s);
      }
    }
    return Future.succeededFuture(new SessionPage(page, null));
  }

  @Override
  public Future<Long> count() {
    synchronized (lock) {
      return Future.succeededFuture((long) liveCount(System.currentTimeMillis()));
    }
  }

  @Override
  public Future<JsonObject> stats() {
    return count().map(c -> new JsonObject().put("adapter", name()).put("count", c));
  }

  @Override
  public Future<JsonObject> health() {
    return Future.succeededFuture(new JsonObject().put("status", "UP").put("adapter", name()));
  }

  @Override
  public Future<Session> merge(Session incoming) {
    String refused = refusedPrefix;
    if (refused != null && incoming.id().startsWith(refused)) {
      return Future.failedFuture(new io.snakepit.contract.SnakepitException(io.snakepit.contract.ErrorCode.BAD_REQUEST,
          "this test store refuses merges of " + refused + "*"));
    }
    long newest = incoming.deletedHlc();
    for (Map<String, Stamped> m : List.of(incoming.metadata(), incoming.programs(), incoming.variables())) {
      for (Stamped s : m.values()) {
        newest = Math.max(newest, s.hlc());
      }
    }
    settings.clock().observe(newest);
    synchronized (lock) {
      String id = incoming.id();
      Session current = liveOrNull(id, System.currentTimeMillis());
      Session merged = Session.merge(Session.merge(current, tombstones.get(id)), incoming);
      if (merged.isDeleted()) {
        live.remove(id);
        tombstones.put(id, merged);
      } else {
        live.put(id, merged);
      }
      return Future.succeededFuture(merged);
    }
  }

  @Override
  public Future<Void> close() {
    return Future.succeededFuture();
  }
}
