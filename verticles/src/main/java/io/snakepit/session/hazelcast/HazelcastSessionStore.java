package io.snakepit.session.hazelcast;

import com.hazelcast.aggregation.Aggregators;
import com.hazelcast.core.EntryEvent;
import com.hazelcast.core.HazelcastJsonValue;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.IMap;
import com.hazelcast.map.LocalMapStats;
import com.hazelcast.map.listener.EntryEvictedListener;
import com.hazelcast.map.listener.EntryExpiredListener;
import com.hazelcast.query.PagingPredicate;
import com.hazelcast.query.Predicate;
import com.hazelcast.query.Predicates;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.snakepit.session.Session;
import io.snakepit.session.SessionErrors;
import io.snakepit.session.SessionListener;
import io.snakepit.session.SessionPage;
import io.snakepit.session.SessionSettings;
import io.snakepit.session.SessionStore;
import io.snakepit.session.fencing.OwnershipLease;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sessions in a Hazelcast {@link IMap} ({@link HazelcastSessionStoreFactory}
 * makes it and says how to configure Hazelcast).
 *
 * <h2>Storage</h2>
 * One entry per session id: a {@link HazelcastJsonValue} of the session's
 * storage JSON with a boolean {@code deleted} ({@link StoredSession}). Each
 * entry has its own TTL, set again by every write, so that it slides with the
 * session's accesses; a deleted session stays as a tombstone entry for
 * {@link SessionSettings#tombstoneTtlMs()}, so that the split-brain merge
 * ({@link HlcMergePolicy}) and {@link #merge} see the delete. Every write is
 * acknowledged after the synchronous backups have it.
 *
 * <h2>Writes</h2>
 * Every change runs as one entry processor ({@link Processors}): atomic at the
 * key's partition owner, one network round trip, never read-then-write. The
 * caller computes the time, the HLC stamp and the node id and ships them with
 * the limits; the processor checks the limits against the current value and,
 * on a violation, returns an error and changes nothing.
 *
 * <p>The generic {@link #update} cannot ship its function (a lambda) to the
 * owner, so it is optimistic: read the session, apply the function here, then
 * store the result with a compare-version-and-set processor; if the version
 * moved on meanwhile, read again and retry, at most
 * {@code limits.maxUpdateRetries()} times, then fail with {@code conflict}.
 * The dedicated operations ({@link #putVariable}, {@link #deleteVariable},
 * {@link #putProgram}, {@link #putMetadata}, {@link #recordServedBy}) never
 * conflict: they are single processors.
 *
 * <h2>Reads and touches</h2>
 * {@link #get} reads asynchronously and records the access (a touch processor,
 * sent without waiting) only when the last recorded one is at least
 * {@code limits.touchGranularityMs()} old. A touch is a write to the primary
 * and to each backup; the granularity bounds them to one per session per
 * granularity, whatever the read rate, at the price of a TTL that slides in
 * steps of that size. {@link #getVariable} and {@link #getProgram} read only
 * the one value at the owner (a read-only processor), and touch the same way.
 *
 * <h2>Queries</h2>
 * {@link #list} and {@link #count} are cluster-wide queries (every member scans
 * its partitions), run off the event loop: {@code list} costs one such query per
 * page (a paging predicate on {@code __key > cursor and deleted = false}, sorted
 * by key), acceptable for admin listing, not for a hot path.
 * {@code max-sessions} is enforced from a count estimate (refreshed periodically
 * and by this store's own creates and deletes) and, near the limit, an exact
 * count; in a cluster, creates on other nodes since the last count may pass the
 * limit slightly.
 *
 * <h2>Events</h2>
 * Expiry is Hazelcast's: a local entry listener, which fires on the member that
 * owns the partition, reports expired and evicted sessions (not tombstones) to
 * the listener, so each expiry is reported once in the cluster, by the store of
 * the owning member. {@code created} and {@code deleted} are reported by the
 * store that made the change.
 *
 * <p>No method blocks the event loop: map operations use the asynchronous API
 * and queries run in {@code executeBlocking}.
 */
public final class HazelcastSessionStore implements SessionStore {

  private static final Logger LOG = LoggerFactory.getLogger(HazelcastSessionStore.class);
  private static final long ESTIMATE_REFRESH_MS = 30_000;

  private final Vertx vertx;
  private final SessionSettings settings;
  private final HazelcastInstance hz;
  private final IMap<String, HazelcastJsonValue> map;
  private final String mapName;
  private final int backupCount;
  private final boolean ownsInstance;
  private final Context context;
  private final AtomicLong operations = new AtomicLong();
  private final AtomicLong failures = new AtomicLong();
  private final AtomicLong liveEstimate = new AtomicLong();
  private volatile SessionListener listener = SessionListener.NONE;
  private UUID listenerId;
  private long refreshTimer = -1;
  private volatile boolean closed;
  private final FencingSettings fencing;
  /** The member's lease keeper, when this store started it (one per member; a second store shares it). */
  private LeaseKeeper keeper;

  /** The lease keeper this store started, or null (tests). */
  LeaseKeeper keeper() {
    return keeper;
  }
  private OwnershipLease lease = OwnershipLease.ALWAYS;
  /** Where sessions live, published for the router when the member carries its node's id; else null. */
  private PartitionPlacement placement;
  /** Copies of what this node changed while the cluster was split, written back after the heal. */
  private SplitJournal journal;
  /** Hazelcast's backup timeout ({@code hazelcast.operation.backup.timeout.millis}), read when the store opens. */
  private long backupTimeoutNanos = Long.MAX_VALUE;
  /** The map's split-brain protection ({@code partition-mode: majority}), or null when it has none. */
  private com.hazelcast.splitbrainprotection.SplitBrainProtection protection;

  HazelcastSessionStore(Vertx vertx, SessionSettings settings, HazelcastInstance hz, String mapName, int backupCount,
                        boolean ownsInstance, FencingSettings fencing) {
    this.fencing = fencing;
    this.vertx = vertx;
    this.settings = settings;
    this.hz = hz;
    this.mapName = mapName;
    this.backupCount = backupCount;
    this.ownsInstance = ownsInstance;
    this.map = hz.getMap(mapName);
    this.context = vertx.getOrCreateContext();
  }

  /** Blocking: registers the expiry listener, counts the sessions, starts the estimate refresh. */
  void open() {
    if (fencing.enabled()) {
      LeaseKeeper running = LeaseKeeper.running(hz);
      if (running != null) {
        // Another store of this member (a live migration between two maps) keeps it: it ticks until both close.
        keeper = running;
        lease = running.lease();
      } else if (hz.getUserContext().get(LeaseKeeper.USER_CONTEXT_KEY) instanceof OwnershipLease given) {
        lease = given; // put there by whoever made the member, who keeps it
      } else {
        keeper = new LeaseKeeper(hz, fencing).start();
        lease = keeper.lease();
      }
      lease.publish(vertx);
    }
    if (hz.getCluster().getLocalMember().getAttribute(HazelcastSessionStoreFactory.NODE_ATTRIBUTE) != null) {
      // A node's own member: its router places sessions' calls on their primaries.
      placement = PartitionPlacement.of(hz);
      io.snakepit.routing.SessionPlacement.publish(vertx, placement);
    }
    journal = new SplitJournal(hz, vertx, this::merge, System::currentTimeMillis).start();
    backupTimeoutNanos = TimeUnit.MILLISECONDS.toNanos(new com.hazelcast.spi.properties.HazelcastProperties(
        hz.getConfig()).getMillis(com.hazelcast.spi.properties.ClusterProperty.OPERATION_BACKUP_TIMEOUT_MILLIS));
    String protectionName = hz.getConfig().findMapConfig(mapName).getSplitBrainProtectionName();
    if (protectionName != null) {
      protection = hz.getSplitBrainProtectionService().getSplitBrainProtection(protectionName);
      if (lease != OwnershipLease.ALWAYS) {
        // Majority mode promises what the majority acknowledged stays; a write in flight while a member left this
        // node's view may have been acknowledged by a side that is about to find itself the minority.
        lease.watchDepartures(new Departures(hz));
      }
      if (keeper != null) {
        keeper.requireMajority(hz.getConfig().getSplitBrainProtectionConfig(protectionName).getMinimumClusterSize());
      }
    }
    listenerId = map.addLocalEntryListener(new ExpiryListener(), Predicates.alwaysTrue(), true);
    liveEstimate.set(exactCount());
    long every = Math.max(ESTIMATE_REFRESH_MS, settings.sweepIntervalMs());
    refreshTimer = vertx.setPeriodic(every, t -> vertx.executeBlocking(() -> {
      if (!closed) {
        liveEstimate.set(exactCount());
      }
      return null;
    }, false));
  }

  /** The member this store uses. */
  public HazelcastInstance hazelcast() {
    return hz;
  }

  /** The map the sessions live in. */
  public IMap<String, HazelcastJsonValue> map() {
    return map;
  }

  @Override
  public String name() {
    return HazelcastSessionStoreFactory.NAME;
  }

  @Override
  public SessionSettings settings() {
    return settings;
  }

  @Override
  public void setListener(SessionListener listener) {
    this.listener = listener == null ? SessionListener.NONE : listener;
  }

  // ---- plumbing ------------------------------------------------------------------------------------

  private static long now() {
    return System.currentTimeMillis();
  }

  private Context ctx() {
    Context c = Vertx.currentContext();
    return c != null ? c : context;
  }

  /**
   * A Hazelcast future as a Vert.x one, completed on the caller's context ({@link HazelcastFutures#on},
   * without a thread per call); Hazelcast failures made typed.
   */
  private <T> Future<T> call(java.util.function.Supplier<CompletionStage<T>> op) {
    CompletionStage<T> stage;
    try {
      stage = op.get();
    } catch (RuntimeException e) {
      return Future.failedFuture(unavailable(e));
    }
    return HazelcastFutures.on(ctx(), stage).recover(t -> Future.failedFuture(unavailable(t)));
  }

  /**
   * Runs a processor on the session's primary. A change is fenced twice: the
   * primary refuses it with {@code not_owner} if its member lost its lease
   * (nothing changed), and it is acknowledged only if this node held its own
   * lease for the whole of it; a pause in between makes the outcome unknown
   * ({@code node_lost}), since the cluster may have dropped this node before
   * the backups took the change (docs/cluster.md, "Fencing").
   */
  private Future<Outcome> submit(String id, EntryProcessor<String, HazelcastJsonValue, Outcome> p) {
    OwnershipLease l = lease;
    if (!l.held()) {
      return fail(notOwner(id, l));
    }
    if (p instanceof com.hazelcast.core.ReadOnly) {
      return call(() -> map.submitToKey(id, p));
    }
    long epoch = l.epoch();
    long started = System.nanoTime();
    return call(() -> map.submitToKey(id, p)).compose(o -> {
      if (!l.heldSince(epoch)) {
        return fail(new SnakepitException(ErrorCode.NODE_LOST, "This node was paused while it changed session '"
            + id + "' and may have been dropped by its cluster meanwhile: the change may or may not have been "
            + "kept. Read the session before retrying a change that is not idempotent.", null,
            new JsonObject().put("session_id", id).put("outcome", "unknown")));
      }
      if (protection != null && System.nanoTime() - started >= backupTimeoutNanos && o.status() != Outcome.ERROR
          && o.status() != Outcome.CONFLICT) {
        // Majority mode: Hazelcast completes a write whose backups did not all acknowledge once its backup timeout
        // has passed, on the primary's word; across a bridge partition the primary may be on the losing side and
        // the backup promoted on the other may not hold it (docs/cluster.md, "What survives what").
        return fail(new SnakepitException(ErrorCode.NODE_LOST, "The change to session '" + id + "' took the "
            + "store's backup timeout or longer, so its backups may not have taken it, and this node may be on the "
            + "side of a partition that loses: it may or may not have been kept. Read the session before retrying "
            + "a change that is not idempotent.", null,
            new JsonObject().put("session_id", id).put("outcome", "unknown")));
      }
      if (o.status() == Outcome.ERROR && o.exception().errorCode() == ErrorCode.NOT_OWNER) {
        return fail(o.exception());
      }
      SplitJournal j = journal;
      if (j != null && j.recording() && o.status() != Outcome.ERROR && o.status() != Outcome.CONFLICT
          && o.session() != null) {
        j.record(StoredSession.decodeJson(o.session()));
      }
      return Future.succeededFuture(o);
    });
  }

  private SnakepitException notOwner(String id, OwnershipLease l) {
    var p = protection;
    if (p != null && !p.hasMinimumSize()) {
      // Its lease lapsed because it no longer hears a majority, and its view has since shrunk below one: say what
      // the operator and the client can act on, rather than not_owner, which the router would retry in vain.
      return new SnakepitException(ErrorCode.MINORITY_PARTITION, "This node is on the minority side of a network "
          + "partition (partition-mode: majority), so it neither reads nor changes session '" + id + "'; nothing "
          + "was changed. Send the request to a node on the majority side, or retry once the partition heals.",
          null, new JsonObject().put("session_id", id));
    }
    return new SnakepitException(ErrorCode.NOT_OWNER, "This node was paused past its ownership lease, or no longer "
        + "hears from a majority of its cluster (" + l + "), and its cluster has not yet confirmed it as a member, "
        + "so it neither reads nor changes session '" + id + "' until then; nothing was changed. Retry shortly, or "
        + "through another node.", null, new JsonObject().put("session_id", id));
  }

  /**
   * Reads a session's stored copy. A node whose lease is void refuses reads
   * too: the copies it holds may be stale, or missing (it answered 404 for
   * live sessions after a pause), until its cluster confirms it.
   */
  private Future<HazelcastJsonValue> read(String id) {
    OwnershipLease l = lease;
    if (!l.held()) {
      return fail(notOwner(id, l));
    }
    return call(() -> map.getAsync(id));
  }

  private <T> Future<T> blocking(java.util.concurrent.Callable<T> op) {
    return vertx.<T>executeBlocking(op, false).recover(t -> Future.failedFuture(unavailable(t)));
  }

  private SnakepitException unavailable(Throwable t) {
    while (t instanceof CompletionException && t.getCause() != null) {
      t = t.getCause();
    }
    failures.incrementAndGet();
    if (t instanceof SnakepitException se) {
      return se;
    }
    if (t instanceof com.hazelcast.core.IndeterminateOperationStateException) {
      // The primary applied the change, but its backups did not confirm in time: it may not survive the loss
      // of the primary. Not acknowledged, and not refused either: the caller must read before retrying.
      return new SnakepitException(ErrorCode.NODE_LOST, "The session store could not confirm that the change "
          + "reached its backups (" + t.getMessage() + "): it may or may not have been kept. Read the session "
          + "before retrying a change that is not idempotent.", null, new JsonObject().put("outcome", "unknown"));
    }
    if (t instanceof com.hazelcast.splitbrainprotection.SplitBrainProtectionException) {
      // partition-mode: majority, and this member is on the minority side.
      return new SnakepitException(ErrorCode.MINORITY_PARTITION, "This node is on the minority side of a network "
          + "partition (partition-mode: majority) and refuses writes: " + t.getMessage());
    }
    return new SnakepitException(ErrorCode.STORE_UNAVAILABLE, "The Hazelcast session store cannot serve: "
        + t.getClass().getSimpleName() + ": " + t.getMessage());
  }

  private <T> Future<T> fail(SnakepitException e) {
    failures.incrementAndGet();
    return Future.failedFuture(e);
  }

  /** Sends a touch without waiting, if the last recorded access is at least the granularity old. */
  private void maybeTouch(String id, long accessedAt, long now) {
    if (now - accessedAt >= settings.limits().touchGranularityMs() && !closed) {
      try {
        map.submitToKey(id, new Processors.Touch(now)).whenCompleteAsync((r, t) -> {
          if (t != null) {
            LOG.debug("Touch of session {} failed: {}", id, t.toString());
          }
        }, HazelcastFutures.DIRECT);
      } catch (RuntimeException e) {
        LOG.debug("Touch of session {} failed: {}", id, e.toString());
      }
    }
  }

  private Future<Session> changed(String id, Outcome o) {
    return switch (o.status()) {
      case Outcome.OK, Outcome.UNCHANGED -> Future.succeededFuture(StoredSession.decodeJson(o.session()));
      case Outcome.NOT_FOUND -> fail(SessionErrors.notFound(id));
      case Outcome.ERROR -> fail(o.exception());
      default -> fail(new SnakepitException(ErrorCode.INTERNAL, "Unexpected outcome " + o.status()));
    };
  }

  // ---- SessionStore ------------------------------------------------------------------------------

  /** Every member of the Hazelcast cluster reads and writes the same map. */
  @Override
  public boolean shared() {
    return true;
  }

  /**
   * On the minority side of a partition with {@code partition-mode: majority}
   * no call runs in a session, not only no write: a call that keeps its state
   * in Python (no {@code ctx.session} write) would otherwise run here while the
   * majority's new owner runs the session's calls too, and what either side's
   * worker remembers would be lost at the heal. Until Hazelcast merges this
   * side back, its cluster stays below the quorum and the refusal stands.
   */
  @Override
  public boolean majorityOnly() {
    return protection != null;
  }

  @Override
  public Future<Void> admitsCalls() {
    var p = protection;
    if (p == null || p.hasMinimumSize()) {
      return Future.succeededFuture();
    }
    return fail(new SnakepitException(ErrorCode.MINORITY_PARTITION, "This node is on the minority side of a network "
        + "partition (partition-mode: majority): it runs no call in a session until its side rejoins the majority, "
        + "which may be serving the session meanwhile; nothing ran. Send the call to a node on the majority side, "
        + "or retry once the partition heals."));
  }

  @Override
  public Future<Created> create(String id, long ttlMs, JsonObject metadata) {
    operations.incrementAndGet();
    Session fresh;
    try {
      fresh = settings.newSession(id, ttlMs, metadata, now());
    } catch (SnakepitException e) {
      return fail(e);
    }
    String sid = fresh.id();
    return checkCapacity(sid).compose(v -> submit(sid, new Processors.Create(fresh))).compose(o -> {
      if (o.status() == Outcome.CREATED) {
        liveEstimate.incrementAndGet();
        Session created = StoredSession.decodeJson(o.session());
        listener.created(created);
        return Future.succeededFuture(new Created(created, true));
      }
      return Future.succeededFuture(new Created(StoredSession.decodeJson(o.session()), false));
    });
  }

  /** Fails with limit_exceeded when the store is full, unless {@code id} is live already (create is idempotent). */
  private Future<Void> checkCapacity(String id) {
    long max = settings.limits().maxSessions();
    long margin = Math.max(16, max / 64);
    if (liveEstimate.get() + margin < max) {
      return Future.succeededFuture();
    }
    return count().compose(n -> {
      liveEstimate.set(n);
      if (n < max) {
        return Future.succeededFuture();
      }
      return exists(id).compose(e -> e ? Future.succeededFuture() : fail(SessionErrors.tooMany(max)));
    });
  }

  @Override
  public Future<Session> get(String id) {
    operations.incrementAndGet();
    if (id == null) {
      return fail(SessionErrors.notFound("null"));
    }
    return read(id).compose(v -> {
      long now = now();
      Session s = StoredSession.decode(v);
      if (!StoredSession.live(s, now)) {
        return fail(SessionErrors.notFound(id));
      }
      maybeTouch(id, s.accessedAt(), now);
      return Future.succeededFuture(s.touched(now));
    });
  }

  @Override
  public Future<Boolean> exists(String id) {
    operations.incrementAndGet();
    if (id == null) {
      return Future.succeededFuture(false);
    }
    return read(id).map(v -> StoredSession.live(StoredSession.decode(v), now()));
  }

  /**
   * {@inheritDoc}
   *
   * <p>Optimistic, because a function cannot be shipped to the partition owner:
   * read the session, apply {@code fn} here, then store the result with a
   * compare-version-and-set entry processor; when the version moved on in
   * between, read again and retry, at most {@code limits.maxUpdateRetries()}
   * times, then fail with {@code conflict}. Two round trips per attempt; the
   * dedicated operations ({@link #putVariable} and the like) need one and never
   * conflict, so prefer them.
   *
   * <p>Called on an event loop, {@code fn} runs there and must not block.
   * Called from any other thread, {@code fn} runs on a worker thread, so it may
   * block, even on other calls to this store.
   */
  @Override
  public Future<Session> update(String id, UnaryOperator<Session> fn) {
    operations.incrementAndGet();
    if (id == null) {
      return fail(SessionErrors.notFound("null"));
    }
    return attempt(id, fn, 0, Context.isOnEventLoopThread());
  }

  private Future<Session> attempt(String id, UnaryOperator<Session> fn, int attempt, boolean inline) {
    return read(id).compose(v -> {
      long now = now();
      Session current = StoredSession.decode(v);
      if (!StoredSession.live(current, now)) {
        return fail(SessionErrors.notFound(id));
      }
      Future<Session> applied;
      if (inline) {
        try {
          applied = Future.succeededFuture(fn.apply(current));
        } catch (RuntimeException e) {
          applied = Future.failedFuture(e);
        }
      } else {
        applied = vertx.executeBlocking(() -> fn.apply(current), false);
      }
      return applied.recover(e -> {
        failures.incrementAndGet();
        return Future.failedFuture(e);
      }).compose(next -> {
        if (next == current) {
          return Future.succeededFuture(current);
        }
        Session stored = next.touched(now);
        return submit(id, new Processors.CompareAndSet(current.version(), stored, now)).compose(o -> {
          if (o.status() == Outcome.CONFLICT) {
            int retries = settings.limits().maxUpdateRetries();
            return attempt < retries ? attempt(id, fn, attempt + 1, inline) : fail(SessionErrors.conflict(id, retries));
          }
          return changed(id, o);
        });
      });
    });
  }

  @Override
  public Future<Boolean> delete(String id) {
    operations.incrementAndGet();
    if (id == null) {
      return Future.succeededFuture(false);
    }
    long hlc = settings.clock().now();
    return submit(id, new Processors.Delete(hlc, now(), settings.tombstoneTtlMs())).map(o -> {
      switch (o.status()) {
        case Outcome.DELETED -> {
          liveEstimate.decrementAndGet();
          listener.deleted(id);
          return true;
        }
        case Outcome.EXPIRED -> {
          listener.expired(id);
          return false;
        }
        default -> {
          return false;
        }
      }
    });
  }

  @Override
  public Future<SessionPage> list(String cursor, int limit) {
    operations.incrementAndGet();
    int n = Math.max(1, Math.min(limit, 1000));
    return blocking(() -> {
      Predicate<String, HazelcastJsonValue> live = Predicates.equal(StoredSession.DELETED, false);
      Predicate<String, HazelcastJsonValue> where = cursor == null ? live
          : Predicates.and(Predicates.greaterThan("__key", cursor), live);
      PagingPredicate<String, HazelcastJsonValue> page = Predicates.pagingPredicate(where, new KeyComparator(), n + 1);
      Collection<Map.Entry<String, HazelcastJsonValue>> entries = map.entrySet(page);
      long now = now();
      List<Session> out = new ArrayList<>(Math.min(n, entries.size()));
      String last = null;
      int seen = 0;
      for (Map.Entry<String, HazelcastJsonValue> e : entries) {
        if (seen == n) {
          break;
        }
        seen++;
        last = e.getKey();
        Session s = StoredSession.decode(e.getValue());
        if (StoredSession.live(s, now)) {
          out.add(s);
        }
      }
      return new SessionPage(out, entries.size() > n ? last : null);
    });
  }

  @Override
  public Future<Long> count() {
    return blocking(this::exactCount);
  }

  @Override
  public Future<java.util.Map<String, Long>> countByOwner(java.util.function.Function<String, String> ownerOf) {
    // localKeySet: the keys whose primary partition is on this member, so the members' counts add up.
    return blocking(() -> {
      java.util.Map<String, Long> counts = new java.util.HashMap<>();
      for (String id : map.localKeySet(Predicates.equal(StoredSession.DELETED, false))) {
        counts.merge(ownerOf.apply(id), 1L, Long::sum);
      }
      return counts;
    });
  }

  /** Blocking: live sessions, counted on the members. */
  private long exactCount() {
    Long n = map.aggregate(Aggregators.count(), Predicates.equal(StoredSession.DELETED, false));
    return n == null ? 0 : n;
  }

  @Override
  public Future<JsonObject> stats() {
    return count().map(n -> {
      LocalMapStats local = map.getLocalMapStats();
      return new JsonObject().put("adapter", name()).put("count", n).put("map", mapName)
          .put("backup-count", backupCount).put("members", hz.getCluster().getMembers().size())
          .put("operations", operations.get()).put("failures", failures.get())
          .put("local-owned-entries", local.getOwnedEntryCount())
          .put("local-backup-entries", local.getBackupEntryCount())
          .put("embedded", ownsInstance);
    });
  }

  @Override
  public Future<JsonObject> health() {
    return vertx.executeBlocking(() -> {
      JsonObject h = new JsonObject().put("adapter", name());
      boolean running = hz.getLifecycleService().isRunning();
      h.put("status", running ? "UP" : "DOWN");
      if (running) {
        h.put("members", hz.getCluster().getMembers().size())
            .put("cluster-safe", hz.getPartitionService().isClusterSafe());
      }
      return h;
    }, false).otherwise(t -> new JsonObject().put("adapter", name()).put("status", "DOWN")
        .put("error", t.toString()));
  }

  @Override
  public Future<Session> merge(Session incoming) {
    operations.incrementAndGet();
    settings.clock().observe(incoming.latestStamp());
    String id = incoming.id();
    return submit(id, new Processors.Merge(incoming, now(), settings.tombstoneTtlMs())).map(o -> {
      Session merged = StoredSession.decodeJson(o.session());
      if (o.status() == Outcome.CREATED) {
        liveEstimate.incrementAndGet();
        listener.created(merged);
      } else if (o.status() == Outcome.DELETED) {
        liveEstimate.decrementAndGet();
        listener.deleted(id);
      }
      return merged;
    });
  }

  @Override
  public Future<Void> close() {
    if (closed) {
      return Future.succeededFuture();
    }
    closed = true;
    vertx.cancelTimer(refreshTimer);
    lease.unpublish(vertx);
    if (placement != null) {
      io.snakepit.routing.SessionPlacement.unpublish(vertx, placement);
    }
    if (keeper != null) {
      keeper.release();
    }
    if (journal != null) {
      journal.close();
    }
    return vertx.executeBlocking(() -> {
      try {
        if (listenerId != null && hz.getLifecycleService().isRunning()) {
          map.removeEntryListener(listenerId);
        }
      } finally {
        if (ownsInstance) {
          hz.shutdown();
        }
      }
      return null;
    }, false);
  }

  // ---- single-processor operations ------------------------------------------------------------------

  private Future<Session> change(String id, byte kind, String name, String value, boolean delete) {
    operations.incrementAndGet();
    if (id == null) {
      return fail(SessionErrors.notFound("null"));
    }
    long hlc = settings.clock().now();
    return submit(id, new Processors.Change(kind, name, value, delete, hlc, settings.nodeId(), now(),
        settings.limits())).compose(o -> changed(id, o));
  }

  @Override
  public Future<Session> putVariable(String id, String name, Object value) {
    try {
      settings.limits().checkName("a variable name", name);
      settings.limits().checkValue(value);
    } catch (SnakepitException e) {
      return fail(e);
    }
    return change(id, Processors.Change.VARIABLE, name, Processors.encodeValue(value), false);
  }

  @Override
  public Future<Long> increment(String id, String name, long by) {
    try {
      settings.limits().checkName("a variable name", name);
    } catch (SnakepitException e) {
      return fail(e);
    }
    return change(id, Processors.Change.COUNTER, name, Long.toString(by), false)
        .map(s -> ((Number) s.variable(name)).longValue());
  }

  @Override
  public Future<Session> deleteVariable(String id, String name) {
    return change(id, Processors.Change.VARIABLE, name, null, true);
  }

  @Override
  public Future<Session> putProgram(String id, String programId, JsonObject doc) {
    try {
      settings.limits().checkName("a program id", programId);
      settings.limits().checkProgram(doc);
    } catch (SnakepitException e) {
      return fail(e);
    }
    return change(id, Processors.Change.PROGRAM, programId, Processors.encodeValue(doc), false);
  }

  @Override
  public Future<Session> putMetadata(String id, String key, Object value) {
    try {
      settings.limits().checkMetadataChange(key);
    } catch (SnakepitException e) {
      return fail(e);
    }
    return change(id, Processors.Change.METADATA, key, Processors.encodeValue(value), false);
  }

  @Override
  public Future<Session> recordServedBy(String id, String node, String worker) {
    return change(id, Processors.Change.SERVED_BY, node, worker, false);
  }

  @Override
  public Future<Object> getVariable(String id, String name) {
    return readOne(id, Processors.Change.VARIABLE, "variable", name);
  }

  @Override
  public Future<JsonObject> getProgram(String id, String programId) {
    return readOne(id, Processors.Change.PROGRAM, "program", programId).map(v -> (JsonObject) v);
  }

  private Future<Object> readOne(String id, byte kind, String what, String name) {
    operations.incrementAndGet();
    if (id == null) {
      return fail(SessionErrors.notFound("null"));
    }
    long now = now();
    return submit(id, new Processors.Read(kind, name, now)).compose(o -> {
      if (o.status() == Outcome.NOT_FOUND) {
        return fail(SessionErrors.notFound(id));
      }
      maybeTouch(id, o.accessedAt(), now);
      if (o.status() == Outcome.ABSENT) {
        return fail(SessionErrors.noSuch(what, name, id));
      }
      return Future.succeededFuture(Processors.decodeValue(o.value()));
    });
  }

  // ---- expiry ------------------------------------------------------------------------------------

  /** Hears, on the partition owner only, entries that Hazelcast expired or evicted. */
  private final class ExpiryListener implements EntryExpiredListener<String, HazelcastJsonValue>,
      EntryEvictedListener<String, HazelcastJsonValue> {

    @Override
    public void entryExpired(EntryEvent<String, HazelcastJsonValue> event) {
      gone(event);
    }

    @Override
    public void entryEvicted(EntryEvent<String, HazelcastJsonValue> event) {
      gone(event);
    }

    private void gone(EntryEvent<String, HazelcastJsonValue> event) {
      HazelcastJsonValue old = event.getOldValue();
      if (old != null) {
        try {
          if (new JsonObject(old.toString()).getBoolean(StoredSession.DELETED, false)) {
            return; // a tombstone was forgotten: not an event
          }
        } catch (RuntimeException e) {
          return;
        }
      }
      String id = event.getKey();
      if (!closed) {
        context.runOnContext(v -> listener.expired(id));
      }
    }
  }
}
