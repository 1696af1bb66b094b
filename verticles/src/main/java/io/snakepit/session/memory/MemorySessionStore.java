package io.snakepit.session.memory;

import io.snakepit.contract.SnakepitException;
import io.snakepit.session.HybridLogicalClock;
import io.snakepit.session.Session;
import io.snakepit.session.SessionErrors;
import io.snakepit.session.SessionListener;
import io.snakepit.session.SessionPage;
import io.snakepit.session.SessionSettings;
import io.snakepit.session.SessionStore;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;

/**
 * The default adapter: sessions live in the heap, in a sorted concurrent map
 * (so that {@link #list} pages by id without copying the store), and, with
 * persistence on, also in a local file ({@link SessionFile}) from which a
 * restarted node reloads them.
 *
 * <p>Reads never touch the disk. An access is recorded in the heap when it
 * comes more than {@code touch-granularity-ms} after the last recorded one, and
 * written to the file without waiting: losing a touch in a crash only makes a
 * session expire up to that much earlier. Content changes wait for the file
 * as the durability setting says.
 */
public final class MemorySessionStore implements SessionStore {

  private final Vertx vertx;
  private final SessionSettings settings;
  private SessionFile file;
  private final ConcurrentSkipListMap<String, Session> live = new ConcurrentSkipListMap<>();
  private final ConcurrentHashMap<String, Session> tombstones = new ConcurrentHashMap<>();
  private final AtomicLong liveCount = new AtomicLong();
  private final AtomicLong operations = new AtomicLong();
  private final AtomicLong failures = new AtomicLong();
  private volatile SessionListener listener = SessionListener.NONE;
  private long sweepTimer = -1;

  MemorySessionStore(Vertx vertx, SessionSettings settings) {
    this.vertx = vertx;
    this.settings = settings;
  }

  void attach(SessionFile f) {
    this.file = f;
  }

  /** Loads the file (blocking) and starts the expiry sweep. */
  void open() {
    if (file != null) {
      long now = System.currentTimeMillis();
      file.loadAll(s -> {
        if (s.isDeleted()) {
          tombstones.put(s.id(), s);
        } else if (!s.isExpired(now)) {
          live.put(s.id(), s);
          liveCount.incrementAndGet();
        }
      });
    }
    sweepTimer = vertx.setPeriodic(settings.sweepIntervalMs(), t -> vertx.executeBlocking(() -> {
      sweep(System.currentTimeMillis());
      return null;
    }, false));
  }

  @Override
  public String name() {
    return "memory";
  }

  @Override
  public SessionSettings settings() {
    return settings;
  }

  @Override
  public void setListener(SessionListener listener) {
    this.listener = listener;
  }

  private Context ctx() {
    return vertx.getOrCreateContext();
  }

  private Future<Void> persist(Session s) {
    return file == null ? Future.succeededFuture() : file.write(s.id(), ctx());
  }

  private Future<Void> unpersist(String id) {
    return file == null ? Future.succeededFuture() : file.write(id, ctx());
  }

  /** What the file should hold for an id now: the live session, its tombstone, or nothing. */
  Session stored(String id) {
    Session s = live.get(id);
    return s != null ? s : tombstones.get(id);
  }

  private static <T> Future<T> fail(Throwable t) {
    return Future.failedFuture(t);
  }

  // ---- SessionStore ------------------------------------------------------------------------------

  @Override
  public Future<Created> create(String id, long ttlMs, JsonObject metadata) {
    operations.incrementAndGet();
    long now = System.currentTimeMillis();
    Session fresh;
    try {
      fresh = settings.newSession(id, ttlMs, metadata, now);
    } catch (SnakepitException e) {
      return fail(e);
    }
    String sid = fresh.id();
    while (true) {
      Session existing = live.get(sid);
      if (existing != null) {
        if (!existing.isExpired(now)) {
          return Future.succeededFuture(new Created(existing, false));
        }
        expire(existing);
        continue;
      }
      if (liveCount.get() >= settings.limits().maxSessions()) {
        return fail(SessionErrors.tooMany(settings.limits().maxSessions()));
      }
      if (live.putIfAbsent(sid, fresh) == null) {
        liveCount.incrementAndGet();
        tombstones.remove(sid);
        Session created = fresh;
        return persist(created).map(v -> {
          listener.created(created);
          return new Created(created, true);
        });
      }
    }
  }

  @Override
  public Future<Session> get(String id) {
    operations.incrementAndGet();
    long now = System.currentTimeMillis();
    Session s = live.get(id);
    if (s == null) {
      return fail(SessionErrors.notFound(id));
    }
    if (s.isExpired(now)) {
      expire(s);
      return fail(SessionErrors.notFound(id));
    }
    if (now - s.accessedAt() >= settings.limits().touchGranularityMs()) {
      Session touched = s.touched(now);
      // Lose the race quietly: whoever won recorded an access at least as recent.
      if (live.replace(id, s, touched)) {
        persist(touched);
        return Future.succeededFuture(touched);
      }
    }
    return Future.succeededFuture(s);
  }

  /** The same as {@link #get} but synchronous, for in-process callers and benchmarks; null when missing. */
  public Session getNow(String id) {
    Session s = live.get(id);
    return s == null || s.isExpired(System.currentTimeMillis()) ? null : s;
  }

  @Override
  public Future<Boolean> exists(String id) {
    operations.incrementAndGet();
    Session s = live.get(id);
    return Future.succeededFuture(s != null && !s.isExpired(System.currentTimeMillis()));
  }

  @Override
  public Future<Session> update(String id, UnaryOperator<Session> fn) {
    operations.incrementAndGet();
    int retries = settings.limits().maxUpdateRetries();
    for (int attempt = 0; attempt <= retries; attempt++) {
      long now = System.currentTimeMillis();
      Session current = live.get(id);
      if (current == null) {
        return fail(SessionErrors.notFound(id));
      }
      if (current.isExpired(now)) {
        expire(current);
        return fail(SessionErrors.notFound(id));
      }
      Session next;
      try {
        next = fn.apply(current);
      } catch (RuntimeException e) {
        failures.incrementAndGet();
        return fail(e);
      }
      if (next == current) {
        return Future.succeededFuture(current);
      }
      next = next.touched(now);
      if (live.replace(id, current, next)) {
        Session stored = next;
        return persist(stored).map(v -> stored);
      }
    }
    failures.incrementAndGet();
    return fail(SessionErrors.conflict(id, retries));
  }

  @Override
  public Future<Boolean> delete(String id) {
    operations.incrementAndGet();
    Session s = live.remove(id);
    if (s == null) {
      return Future.succeededFuture(false);
    }
    liveCount.decrementAndGet();
    Session tomb = s.deleted(settings.clock().now());
    tombstones.put(id, tomb);
    if (live.containsKey(id)) {
      // A create won the race after the remove above: the new session supersedes this delete.
      tombstones.remove(id, tomb);
    }
    boolean wasLive = !s.isExpired(System.currentTimeMillis());
    return persist(tomb).map(v -> {
      if (wasLive) {
        listener.deleted(id);
      } else {
        listener.expired(id);
      }
      return wasLive;
    });
  }

  @Override
  public Future<SessionPage> list(String cursor, int limit) {
    operations.incrementAndGet();
    int n = Math.max(1, Math.min(limit, 1000));
    long now = System.currentTimeMillis();
    Map<String, Session> view = cursor == null ? live : live.tailMap(cursor, false);
    List<Session> page = new ArrayList<>(Math.min(n, 64));
    String last = null;
    boolean more = false;
    for (Iterator<Session> it = view.values().iterator(); it.hasNext(); ) {
      Session s = it.next();
      if (s.isExpired(now)) {
        continue;
      }
      if (page.size() == n) {
        more = true;
        break;
      }
      page.add(s);
      last = s.id();
    }
    return Future.succeededFuture(new SessionPage(page, more ? last : null));
  }

  @Override
  public Future<Long> count() {
    return Future.succeededFuture(liveCount.get());
  }

  @Override
  public Future<java.util.Map<String, Long>> countByOwner(java.util.function.Function<String, String> ownerOf) {
    return vertx.executeBlocking(() -> {
      long now = System.currentTimeMillis();
      java.util.Map<String, Long> counts = new java.util.HashMap<>();
      for (Session s : live.values()) {
        if (!s.isExpired(now)) {
          counts.merge(ownerOf.apply(s.id()), 1L, Long::sum);
        }
      }
      return counts;
    }, false);
  }

  @Override
  public Future<JsonObject> stats() {
    return Future.succeededFuture(new JsonObject().put("adapter", name()).put("count", liveCount.get())
        .put("tombstones", tombstones.size()).put("operations", operations.get()).put("failures", failures.get())
        .put("persistent", file != null));
  }

  @Override
  public Future<JsonObject> health() {
    return Future.succeededFuture(new JsonObject().put("status", "UP").put("adapter", name()));
  }

  @Override
  public Future<Session> merge(Session incoming) {
    operations.incrementAndGet();
    settings.clock().observe(incoming.latestStamp());
    String id = incoming.id();
    while (true) {
      Session current = live.get(id);
      Session tomb = tombstones.get(id);
      Session base = Session.merge(current, tomb);
      Session merged = Session.merge(base, incoming);
      if (merged.isDeleted()) {
        if (current != null && !live.remove(id, current)) {
          continue;
        }
        if (current != null) {
          liveCount.decrementAndGet();
          listener.deleted(id);
        }
        tombstones.put(id, merged);
        if (live.containsKey(id)) {
          tombstones.remove(id, merged);
        }
        return persist(merged).map(v -> merged);
      }
      if (current == null) {
        if (live.putIfAbsent(id, merged) != null) {
          continue;
        }
        liveCount.incrementAndGet();
        listener.created(merged);
      } else if (!live.replace(id, current, merged)) {
        continue;
      }
      return persist(merged).map(v -> merged);
    }
  }

  @Override
  public Future<Void> close() {
    vertx.cancelTimer(sweepTimer);
    if (file == null) {
      return Future.succeededFuture();
    }
    return vertx.executeBlocking(() -> {
      file.close();
      return null;
    }, false);
  }

  // ---- expiry ------------------------------------------------------------------------------------

  private void expire(Session s) {
    if (live.remove(s.id(), s)) {
      liveCount.decrementAndGet();
      unpersist(s.id());
      listener.expired(s.id());
    }
  }

  /** Removes expired sessions and forgotten tombstones. Runs off the event loop. */
  void sweep(long now) {
    for (Session s : live.values()) {
      if (s.isExpired(now)) {
        expire(s);
      }
    }
    long forgetBefore = now - settings.tombstoneTtlMs();
    tombstones.values().removeIf(t -> {
      if (HybridLogicalClock.millis(t.deletedHlc()) < forgetBefore) {
        unpersist(t.id());
        return true;
      }
      return false;
    });
  }
}
