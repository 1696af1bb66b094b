package io.snakepit.session.migration;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.snakepit.session.Session;
import io.snakepit.session.SessionListener;
import io.snakepit.session.SessionPage;
import io.snakepit.session.SessionSettings;
import io.snakepit.session.SessionStore;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * A {@link SessionStore} over a source and a target store, that routes each operation by the migration's
 * {@link MigrationPhase} (docs/migration.md):
 * <ul>
 *   <li>{@code IDLE}, {@code ROLLED_BACK}: the source alone, every operation passed through as it is;</li>
 *   <li>{@code DUAL_WRITE}, {@code BACKFILL}, {@code VERIFIED}: reads from the source; a write goes to the
 *       source, then the session it left (or the delete, as a tombstone) is merged into the target;</li>
 *   <li>{@code CUTOVER}: the same with the stores' roles swapped, so that the source stays complete for a
 *       rollback;</li>
 *   <li>{@code COMMITTED}: the target alone.</li>
 * </ul>
 *
 * <p>A write is acknowledged only once both stores have it, each as durable as its configuration promises; if
 * the second store fails, the write fails (it may then be in the first store only, as any unacknowledged write
 * may be anywhere). The second store gets the whole session, by {@link SessionStore#merge}, not the change: a
 * merge keeps per entry the write stamped last, takes counters' per-node totals by maximum and honours
 * tombstones, so copies that arrive late or twice (a dual write racing the backfill's copy of the same session)
 * never make the target older than the source nor count an increment twice.
 *
 * <p>Reads touch both stores while both are written, so that a session read but not written during the
 * migration does not expire in one store while it lives in the other.
 *
 * <p>A merge cannot tell two incarnations of one id apart (a session deleted and created again): a copy of the
 * earlier one merged into the later one would bring its variables back. So while both stores are written, the
 * operations on one id pass a {@link SessionIdGate}: writes that keep the incarnation pass together, a create or
 * a delete passes alone, so that no write's mirror of the old incarnation can land after the new one's create;
 * and the backfill's copy ({@link #copyListed}) passes alone too and is skipped when a create or delete of the id
 * ended after the page holding it was listed.
 */
public final class MigratingSessionStore implements SessionStore {

  private volatile StoreRoute route;
  private volatile SessionListener listener = SessionListener.NONE;
  private final SessionIdGate gate = new SessionIdGate();
  /** Counts the creates and deletes ended while a backfill lists, to tell a listed copy that is stale. */
  private final AtomicLong changeSequence = new AtomicLong();
  /** Per id, the {@link #changeSequence} of its last create or delete, while {@link #trackingChanges}. */
  private final Map<String, Long> incarnationChanges = new ConcurrentHashMap<>();
  private volatile boolean trackingChanges;

  /** The configured store alone, with no migration ({@link MigrationPhase#IDLE}). */
  public MigratingSessionStore(SessionStore source) {
    this(MigrationPhase.IDLE, source, null);
  }

  /**
   * Both stores in a phase, as after a restart in the middle of a migration.
   *
   * @param source null only for {@link MigrationPhase#COMMITTED} (the retired source is not opened again)
   * @param target null only for {@link MigrationPhase#IDLE} and {@link MigrationPhase#ROLLED_BACK}
   */
  public MigratingSessionStore(MigrationPhase phase, SessionStore source, SessionStore target) {
    if (target == null && phase != MigrationPhase.IDLE && phase != MigrationPhase.ROLLED_BACK) {
      throw new IllegalArgumentException("phase " + phase + " needs a target store");
    }
    if (source == null && phase != MigrationPhase.COMMITTED) {
      throw new IllegalArgumentException("phase " + phase + " needs a source store");
    }
    this.route = new StoreRoute(phase, source, target);
    if (source != null) {
      source.setListener(forwarding(source));
    }
    if (target != null) {
      target.setListener(forwarding(target));
    }
  }

  /** The current phase. */
  public MigrationPhase phase() {
    return route.phase;
  }

  /** The store being migrated from (after a commit: the retired one). */
  public SessionStore source() {
    return route.source;
  }

  /** The store being migrated to; null when there is none. */
  public SessionStore target() {
    return route.target;
  }

  /**
   * Moves to {@code phase}, with {@code source} and {@code target} as the stores; completes once every operation
   * begun under the previous phase has ended, so that afterwards every write is routed the new way. When the
   * store that applies writes first changes (a cutover, a rollback from cutover), operations of the new phase
   * wait for that too: a counter incremented in both stores at once from the same totals would merge to a
   * single increment.
   */
  public Future<Void> moveTo(MigrationPhase phase, SessionStore source, SessionStore target) {
    if (target != null && target != route.target && target != route.source) {
      target.setListener(forwarding(target));
    }
    StoreRoute old = route;
    StoreRoute next = new StoreRoute(phase, source, target);
    Future<Void> drained = old.retire();
    if (next.primary() != old.primary()) {
      next.ready = drained;
    }
    route = next;
    return drained;
  }

  /** Moves to {@code phase} with the same stores. */
  public Future<Void> moveTo(MigrationPhase phase) {
    StoreRoute r = route;
    return moveTo(phase, r.source, r.target);
  }

  // Events (a delete, an expiry) reach the node from the store that answers reads only: the other store's
  // copy of the same event would tell the workers twice.
  private SessionListener forwarding(SessionStore from) {
    return new SessionListener() {
      @Override
      public void created(Session session) {
        if (route.primary() == from) {
          listener.created(session);
        }
      }

      @Override
      public void deleted(String id) {
        if (route.primary() == from) {
          listener.deleted(id);
        }
      }

      @Override
      public void expired(String id) {
        if (route.primary() == from) {
          listener.expired(id);
        }
      }
    };
  }

  private StoreRoute enter() {
    while (true) {
      StoreRoute r = route;
      if (r.enter()) {
        return r;
      }
    }
  }

  private <T> Future<T> run(Function<StoreRoute, Future<T>> op) {
    StoreRoute r = enter();
    Future<T> f;
    if (!r.ready.isComplete()) {
      f = r.ready.compose(v -> op.apply(r));
    } else {
      try {
        f = op.apply(r);
      } catch (RuntimeException e) {
        f = Future.failedFuture(e);
      }
    }
    return f.andThen(ar -> r.leave());
  }

  /**
   * Runs an operation on session {@code id}: through the {@link SessionIdGate} while both stores are written,
   * alone when it may change the session's incarnation (a create, a delete).
   */
  private <T> Future<T> runOn(String id, boolean changesIncarnation, Function<StoreRoute, Future<T>> op) {
    return run(r -> {
      if (r.secondary() == null) {
        return op.apply(r);
      }
      if (!changesIncarnation) {
        return gate.run(id, false, () -> op.apply(r));
      }
      return gate.run(id, true, () -> op.apply(r).andThen(ar -> {
        // Recorded once both stores have the change, still alone on the id: a copy admitted after this sees it.
        if (ar.succeeded() && trackingChanges) {
          incarnationChanges.put(id, changeSequence.incrementAndGet());
        }
      }));
    });
  }

  /**
   * Starts (or moves on) the tracking of creates and deletes for a backfill that is about to list a page: answers
   * the mark to give {@link #copyListed} for that page's sessions. Forgets the changes that ended before it,
   * which that page and later ones see; the backfill lists one page at a time, so nothing older is asked about.
   */
  long listingStarts() {
    long mark = changeMark();
    forgetChangesUpTo(mark);
    return mark;
  }

  /** Starts (or goes on with) the tracking of creates and deletes; answers the mark of the changes so far. */
  long changeMark() {
    trackingChanges = true;
    return changeSequence.get();
  }

  /** Forgets the creates and deletes up to {@code mark}: no copy listed before it will be asked about. */
  void forgetChangesUpTo(long mark) {
    incarnationChanges.values().removeIf(seq -> seq <= mark);
  }

  /** The store that answers reads, and applies writes first. */
  SessionStore readingStore() {
    return route.primary();
  }

  /** Ends the tracking {@link #listingStarts} began: the backfill is over (done or stopped). */
  void listingsEnd() {
    trackingChanges = false;
    incarnationChanges.clear();
  }

  /**
   * The backfill's copy of one session, as the store that answers reads listed it when {@link #listingStarts}
   * answered {@code listedAt}, into the other store, by merge: alone on its id, so that no create or delete of
   * it runs meanwhile. Skipped when a create or delete of the id ended after the listing: the listed copy may be
   * of an earlier incarnation, which a merge would mix into the current one; and the dual writes have put the
   * change (the tombstone, or the whole new session) in both stores already. Fails with {@code conflict} once
   * the stores are no longer both written.
   *
   * @return whether it was copied (false: skipped)
   */
  Future<Boolean> copyListed(Session listed, long listedAt) {
    String id = listed.id();
    return run(r -> {
      SessionStore second = r.secondary();
      if (second == null) {
        return Future.failedFuture(new SnakepitException(ErrorCode.CONFLICT, "The migration is in phase "
            + r.phase.wireName() + ": the backfill has nothing to copy into."));
      }
      return gate.run(id, true, () -> incarnationChanges.getOrDefault(id, 0L) > listedAt
          ? Future.succeededFuture(false) : second.merge(listed).map(true));
    });
  }

  /**
   * The {@link StoreRepair}'s step for one id: makes the store that does not answer reads hold what the one that
   * does holds, from the copies each listed when {@link #changeMark} answered {@code listedAt} or later; alone on
   * its id, and skipped when a create or delete of it ended after the listing (the dual writes carried it).
   * <ul>
   *   <li>in the reading store only: created in the other (over a tombstone it may hold) and merged there;</li>
   *   <li>in the other store only: deleted there, unless the reading store has it now (written since);</li>
   *   <li>in both, different: each merged into the other (a write never acknowledged may have reached either
   *       one first), so both hold the same; but when the copies were created at different times (two
   *       incarnations of the id), the other store's copy is replaced by the reading store's.</li>
   * </ul>
   *
   * @param inReading the copy the reading store listed; null when it listed none
   * @param inOther   the copy the other store listed; null when it listed none
   * @return whether it wrote anything
   */
  Future<Boolean> repair(String id, Session inReading, Session inOther, long listedAt) {
    return run(r -> {
      SessionStore first = r.primary();
      SessionStore second = r.secondary();
      if (second == null) {
        return Future.failedFuture(new SnakepitException(ErrorCode.CONFLICT, "The migration is in phase "
            + r.phase.wireName() + ": there is no other store to repair."));
      }
      return gate.run(id, true, () -> {
        if (incarnationChanges.getOrDefault(id, 0L) > listedAt) {
          return Future.succeededFuture(false);
        }
        if (inOther == null) {
          // A create first: the other store may hold a tombstone (a create that reached the reading store alone
          // before a crash), which a merge would honour. Unless the reading store lost it since (a merged
          // tombstone, which a merge does not count as a change of incarnation).
          return first.exists(id).compose(live -> !live ? Future.succeededFuture(false)
              : second.create(id, inReading.ttlMs(), null).compose(c -> second.merge(inReading)).map(true));
        }
        if (inReading == null) {
          // Deleted or expired in the reading store by a write that never reached this one (a crash between
          // the two); or created since by a merge, which the reading store then has.
          return first.exists(id).compose(live -> live ? Future.succeededFuture(false)
              : second.delete(id).map(true));
        }
        if (inReading.createdAt() != inOther.createdAt()) {
          // Two incarnations: the reading store's session was created again while the other store still held
          // the earlier one (it had expired in the reading store first, and a crash caught the create between
          // the stores). A merge would mix them, in either direction: the other store's copy is replaced.
          return first.exists(id).compose(live -> !live ? Future.succeededFuture(false)
              : second.delete(id).compose(x -> second.create(id, inReading.ttlMs(), null))
                  .compose(c -> second.merge(inReading)).map(true));
        }
        if (SessionDigest.of(inReading).equals(SessionDigest.of(inOther))) {
          return Future.succeededFuture(false);
        }
        return first.merge(inOther).compose(merged -> second.merge(merged)).map(true);
      });
    });
  }

  /** How many ids have an operation waiting at or passing the gate (for tests). */
  int gatedIds() {
    return gate.busyIds();
  }

  /** Merges {@code s} (what the first store now holds) into the second store; completes with {@code s}. */
  private static Future<Session> mirror(StoreRoute r, Session s) {
    SessionStore second = r.secondary();
    return second == null ? Future.succeededFuture(s) : second.merge(s).map(s);
  }

  /** A write to session {@code id} that completes with a session: on the primary by {@code op}, then mirrored. */
  private Future<Session> write(String id, Function<SessionStore, Future<Session>> op) {
    return runOn(id, false, r -> op.apply(r.primary()).compose(s -> mirror(r, s)));
  }

  /** Reads from the primary; while both stores are written, touches the other one's copy too. */
  private Future<Session> read(String id) {
    return run(r -> r.primary().get(id).compose(s -> {
      SessionStore second = r.secondary();
      if (second == null) {
        return Future.succeededFuture(s);
      }
      // The other copy may be missing (not copied yet, or expired earlier): the read answers from the primary.
      return second.get(id).transform(ignored -> Future.succeededFuture(s));
    }));
  }

  private boolean passThrough() {
    return route.secondary() == null;
  }

  @Override
  public String name() {
    return route.primary().name();
  }

  @Override
  public Future<Created> create(String id, long ttlMs, JsonObject metadata) {
    return runOn(id, true, r -> r.primary().create(id, ttlMs, metadata).compose(c -> {
      SessionStore second = r.secondary();
      if (second == null) {
        return Future.succeededFuture(c);
      }
      Session s = c.session();
      // A create first, not only a merge: the second store may hold a tombstone of an earlier session of this
      // id, which a merge would honour; a create replaces it, as it did in the first store. A delete before it:
      // the second store may still hold the earlier session live (it expired in the first store only, or its
      // delete failed there), whose entries a merge would mix into the new one.
      Future<?> fresh = c.created() ? second.delete(s.id()).compose(x -> second.create(s.id(), s.ttlMs(), null))
          : Future.succeededFuture();
      return fresh.compose(x -> second.merge(s)).map(c);
    }));
  }

  @Override
  public Future<Session> get(String id) {
    return read(id);
  }

  @Override
  public Future<Void> admitsCalls() {
    return route.primary().admitsCalls();
  }

  @Override
  public boolean majorityOnly() {
    return route.primary().majorityOnly();
  }

  @Override
  public Future<Boolean> exists(String id) {
    return run(r -> r.primary().exists(id));
  }

  @Override
  public Future<Session> update(String id, UnaryOperator<Session> fn) {
    return write(id, s -> s.update(id, fn));
  }

  @Override
  public Future<Boolean> delete(String id) {
    return runOn(id, true, r -> r.primary().delete(id).compose(existed -> {
      SessionStore second = r.secondary();
      if (second == null) {
        return Future.succeededFuture(existed);
      }
      // A tombstone, not only a delete: the second store may not have the session yet, and a backfill copy
      // arriving after the delete must find the tombstone and stay deleted.
      SessionSettings st = r.primary().settings();
      Session tomb = Session.create(id, System.currentTimeMillis(), 1).deleted(st.clock().now());
      return second.merge(tomb).map(existed);
    }));
  }

  @Override
  public Future<SessionPage> list(String cursor, int limit) {
    return run(r -> r.primary().list(cursor, limit));
  }

  @Override
  public Future<Long> count() {
    return run(r -> r.primary().count());
  }

  @Override
  public Future<Map<String, Long>> countByOwner(Function<String, String> ownerOf) {
    return run(r -> r.primary().countByOwner(ownerOf));
  }

  @Override
  public Future<JsonObject> stats() {
    return run(r -> r.primary().stats().map(st -> r.phase == MigrationPhase.IDLE ? st
        : st.copy().put("migration", r.phase.wireName())));
  }

  @Override
  public Future<JsonObject> health() {
    return run(r -> {
      SessionStore second = r.secondary();
      if (second == null) {
        return r.primary().health();
      }
      // While both stores are written, a write needs both: the store can serve only if both can.
      return r.primary().health().compose(p -> second.health().map(q -> {
        boolean up = "UP".equals(p.getString("status")) && "UP".equals(q.getString("status"));
        return p.copy().put("status", up ? "UP" : "DOWN").put("migration", new JsonObject()
            .put("phase", r.phase.wireName()).put("other_store", q));
      }));
    });
  }

  @Override
  public Future<Session> merge(Session incoming) {
    return write(incoming.id(), s -> s.merge(incoming));
  }

  /** Closes every store it holds that is still open. */
  @Override
  public Future<Void> close() {
    StoreRoute r = route;
    Future<Void> first = r.phase == MigrationPhase.COMMITTED || r.source == null ? Future.succeededFuture()
        : r.source.close();
    boolean targetOpen = r.target != null && r.phase != MigrationPhase.ROLLED_BACK;
    return Future.join(first, targetOpen ? r.target.close() : Future.succeededFuture()).mapEmpty();
  }

  @Override
  public void setListener(SessionListener listener) {
    this.listener = listener;
  }

  @Override
  public SessionSettings settings() {
    return route.primary().settings();
  }

  // ---- single-entry writes: the primary's own (cheaper) operation, then the session it left is mirrored ------

  @Override
  public Future<Session> putVariable(String id, String name, Object value) {
    return write(id, s -> s.putVariable(id, name, value));
  }

  @Override
  public Future<Session> deleteVariable(String id, String name) {
    return write(id, s -> s.deleteVariable(id, name));
  }

  @Override
  public Future<Session> putProgram(String id, String programId, JsonObject doc) {
    return write(id, s -> s.putProgram(id, programId, doc));
  }

  @Override
  public Future<Session> putMetadata(String id, String key, Object value) {
    return write(id, s -> s.putMetadata(id, key, value));
  }

  @Override
  public Future<Session> recordServedBy(String id, String node, String worker) {
    return write(id, s -> s.recordServedBy(id, node, worker));
  }

  @Override
  public Future<Long> increment(String id, String name, long by) {
    // The primary's increment answers the value only; the mirror needs the session, which update gives.
    return passThrough() ? run(r -> r.primary().increment(id, name, by)) : SessionStore.super.increment(id, name, by);
  }

  @Override
  public Future<Object> getVariable(String id, String name) {
    return passThrough() ? run(r -> r.primary().getVariable(id, name)) : SessionStore.super.getVariable(id, name);
  }

  @Override
  public Future<JsonObject> getProgram(String id, String programId) {
    return passThrough() ? run(r -> r.primary().getProgram(id, programId))
        : SessionStore.super.getProgram(id, programId);
  }

  @Override
  public Future<Claim> claim(String id, String node) {
    return passThrough() ? run(r -> r.primary().claim(id, node)) : SessionStore.super.claim(id, node);
  }
}
