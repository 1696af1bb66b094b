package io.snakepit.session.migration;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.snakepit.session.SessionSettings;
import io.snakepit.session.SessionStore;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's live migration between session stores (docs/migration.md): {@link #start}, {@link #status},
 * {@link #verify}, {@link #cutover}, {@link #commit} and {@link #rollback}, each refused with a typed error
 * that changes nothing when the phase does not allow it. Every phase change is persisted
 * ({@link MigrationStateFile}) before the stores are rewired, so that a node restarted at any point comes back
 * in a phase whose stores hold every acknowledged write; {@link #open} rebuilds it and repairs the stores
 * ({@link StoreRepair}) before a verify, cutover or commit is allowed again.
 */
public final class StoreMigration {

  private static final Logger LOG = LoggerFactory.getLogger(StoreMigration.class);
  static final int PAGE = 500;
  static final int CONCURRENCY = 16;
  static final int MAX_LISTED_DIFFERENCES = 100;

  private final Vertx vertx;
  private final MigratingSessionStore store;
  private final AdapterStores adapters;
  private final MigrationStateFile file;
  private final String dataDir;
  private MigrationState state;
  private Future<Void> writes = Future.succeededFuture();
  private SessionCopy backfill;
  private Future<?> backfillRun = Future.succeededFuture();
  private boolean busy;
  private boolean verifying;

  private StoreMigration(Vertx vertx, MigratingSessionStore store, SessionSettings settings, MigrationState state) {
    this.vertx = vertx;
    this.store = store;
    this.adapters = new AdapterStores(vertx, settings);
    this.dataDir = settings.dataDir();
    this.file = dataDir == null ? null : new MigrationStateFile(vertx, Path.of(dataDir));
    this.state = state;
  }

  /**
   * Opens the node's store: the configured one alone, or, as the state file in the data directory says, both
   * stores in the phase of a migration under way (its backfill resumed), or the target of a committed one.
   *
   * @param configured opens the store {@code sessions.adapter} names; not called after a commit
   */
  public static Future<StoreMigration> open(Vertx vertx, String configuredAdapter, SessionSettings settings,
                                            Supplier<Future<SessionStore>> configured) {
    if (settings.dataDir() == null) {
      return configured.get().map(s -> new StoreMigration(vertx, new MigratingSessionStore(s), settings, null));
    }
    MigrationStateFile file = new MigrationStateFile(vertx, Path.of(settings.dataDir()));
    AdapterStores adapters = new AdapterStores(vertx, settings);
    return file.read().compose(st -> {
      if (st == null) {
        return configured.get().map(s -> new StoreMigration(vertx, new MigratingSessionStore(s), settings, null));
      }
      Supplier<Future<SessionStore>> source = st.sourceSettings() == null ? configured
          : () -> adapters.open(st.source(), st.sourceSettings(), st.sourceDataDir());
      Supplier<Future<SessionStore>> target = () -> adapters.open(st.target(), st.targetSettings(),
          st.targetDataDir());
      return switch (st.phase()) {
        case IDLE, ROLLED_BACK -> source.get().map(s -> new StoreMigration(vertx,
            new MigratingSessionStore(st.phase(), s, null), settings, st));
        case COMMITTED -> target.get().map(t -> {
          if (!st.target().equals(configuredAdapter)) {
            LOG.warn("A migration of the sessions to the {} adapter was committed on {} ({}): this node uses the {} "
                + "store although sessions.adapter names {}. Set sessions.adapter to {} with its settings {} (and "
                + "data-dir) to say so in the configuration.", st.target(), java.time.Instant.ofEpochMilli(
                st.changedAt()), file.path(), st.target(), configuredAdapter, st.target(), st.targetSettings());
          }
          return new StoreMigration(vertx, new MigratingSessionStore(MigrationPhase.COMMITTED, null, t), settings,
              st);
        });
        default -> source.get().compose(s -> target.get().recover(e -> s.close().transform(x ->
            Future.<SessionStore>failedFuture(e))).map(t -> {
          // Dual writes were on before the crash, and are from the first operation now. A write caught by the
          // crash between the two stores may be in one only, behind the backfill's cursor or after its end: the
          // stores are repaired from the start before a verify counts again (VERIFIED goes back to BACKFILL).
          MigrationPhase phase = st.phase().readsSource() ? MigrationPhase.BACKFILL : st.phase();
          LOG.info("Resuming the migration of the sessions from {} to {} in phase {}: repairing the {} store from "
              + "the {} store first", st.source(), st.target(), phase, phase.readsSource() ? st.target() : st.source(),
              phase.readsSource() ? st.source() : st.target());
          StoreMigration m = new StoreMigration(vertx, new MigratingSessionStore(phase, s, t), settings,
              st.withVerify(interrupted(st.verify())).withPhase(phase).withBackfill(BackfillProgress.NONE));
          m.runRepair();
          return m;
        }));
      };
    });
  }

  private static JsonObject interrupted(JsonObject verify) {
    return verify != null && "running".equals(verify.getString("state"))
        ? new JsonObject().put("state", "interrupted").put("passed", false) : verify;
  }

  /** The store the node serves: the configured store, decorated. */
  public MigratingSessionStore store() {
    return store;
  }

  // ---- operations ------------------------------------------------------------------------------------

  /**
   * Checks a {@code start} without changing anything: no migration in progress, a data directory, a known
   * adapter and settings it accepts. Throws the typed error {@link #start} would fail with.
   *
   * @return the adapter's name
   */
  public synchronized String checkStart(JsonObject body) {
    MigrationPhase phase = store.phase();
    if (phase.inProgress() || busy) {
      throw conflictError("A migration to " + (state == null ? "?" : state.target()) + " is in phase "
          + phase.wireName() + "; follow it with GET /v1/admin/migration (snakepit migrate status), or roll it back "
          + "(POST /v1/admin/migration/rollback) before starting another.");
    }
    if (file == null) {
      throw new SnakepitException(ErrorCode.BAD_REQUEST, "A migration needs a data-dir, where "
          + "it keeps its state across restarts; set data-dir in the node's configuration. Nothing was changed.");
    }
    Object to = body.getValue("to");
    if (!(to instanceof String adapter) || adapter.isBlank()) {
      throw new SnakepitException(ErrorCode.BAD_REQUEST, "'to' must name the session adapter "
          + "to migrate to, one of " + String.join(", ", AdapterStores.known()) + ". Nothing was changed.");
    }
    if (!(body.getValue("settings", new JsonObject()) instanceof JsonObject settings)) {
      throw new SnakepitException(ErrorCode.BAD_REQUEST, "'settings' must be a JSON object, "
          + "the target adapter's section (as under sessions.<adapter>). Nothing was changed.");
    }
    String name = AdapterStores.factory(adapter).name();
    adapters.validate(name, settings, Path.of(dataDir, "migration", "check").toString());
    return name;
  }

  /**
   * {@code {"to": adapter, "settings": {...}}}: starts dual writes and the backfill; answers the status. With
   * {@code "follower": true} (a node of a cluster whose coordinator runs the backfill, {@link ClusterMigration})
   * it starts the dual writes alone.
   */
  public synchronized Future<JsonObject> start(JsonObject body) {
    String name;
    try {
      name = checkStart(body);
    } catch (SnakepitException e) {
      return Future.failedFuture(e);
    }
    JsonObject settings = body.getJsonObject("settings", new JsonObject());
    boolean follower = Boolean.TRUE.equals(body.getValue("follower"));
    String targetDir = Path.of(dataDir, "migration", "target-" + System.currentTimeMillis()).toString();
    // After a commit the source is the earlier target: the state must say how to open it again at a restart.
    boolean fromCommitted = store.phase() == MigrationPhase.COMMITTED;
    SessionStore source = fromCommitted ? store.target() : store.source();
    MigrationState prior = state;
    JsonObject sourceSettings = prior == null ? null : fromCommitted ? prior.targetSettings() : prior.sourceSettings();
    String sourceDir = prior == null ? null : fromCommitted ? prior.targetDataDir() : prior.sourceDataDir();
    MigrationState next = new MigrationState(MigrationPhase.DUAL_WRITE, source.name(), sourceSettings, sourceDir,
        name, settings, targetDir, System.currentTimeMillis(), System.currentTimeMillis(), BackfillProgress.NONE,
        null);
    busy = true;
    return adapters.open(name, settings, targetDir).recover(e -> Future.failedFuture(
        SnakepitException.from(e).errorCode() == ErrorCode.INTERNAL ? new SnakepitException(
            ErrorCode.STORE_UNAVAILABLE, "The " + name + " store did not open: " + e.getMessage()
            + ". Check 'settings'; nothing was changed.") : e)).compose(target -> persist(s -> next)
        .compose(v -> store.moveTo(MigrationPhase.DUAL_WRITE, source, target))
        .recover(e -> target.close().transform(x -> Future.failedFuture(e))))
        .compose(v -> {
          LOG.info("Migration of the sessions from {} to {} started: dual writes on, backfill starting",
              source.name(), name);
          // Every write begun before the dual writes has ended (moveTo drained them): the backfill sees them all.
          return persist(s -> s.withPhase(MigrationPhase.BACKFILL)).compose(x -> store.moveTo(MigrationPhase.BACKFILL));
        }).map(v -> {
          if (!follower) {
            runBackfill();
          }
          return status();
        }).andThen(ar -> {
          synchronized (this) {
            busy = false;
          }
        });
  }

  private synchronized void runRepair() {
    StoreRepair r = new StoreRepair(store, PAGE, p -> persist(s -> s.withBackfill(p)));
    backfill = r;
    backfillRun = r.run().onSuccess(p -> LOG.info("Migration repair done: {} sessions compared, "
        + "{} repaired, {} failed in {} s", p.copied(), r.repaired(), p.failed(),
        (p.finishedAt() - p.startedAt()) / 1000))
        .onFailure(e -> LOG.warn("Migration repair stopped: {}", e.getMessage()));
  }

  private synchronized void runBackfill() {
    Backfill b = new Backfill(store, PAGE, CONCURRENCY, state.backfill(),
        p -> persist(s -> s.withBackfill(p)), this::pause);
    backfill = b;
    backfillRun = b.run().onSuccess(p -> LOG.info("Migration backfill done: {} sessions copied, {} gone, {} failed "
        + "in {} s", p.copied(), p.gone(), p.failed(), (p.finishedAt() - p.startedAt()) / 1000))
        .onFailure(e -> LOG.warn("Migration backfill stopped: {}", e.getMessage()));
  }

  /** Completes after {@code ms} milliseconds, on a Vert.x timer. */
  private Future<Void> pause(long ms) {
    if (ms <= 0) {
      return Future.succeededFuture();
    }
    io.vertx.core.Promise<Void> p = io.vertx.core.Promise.promise();
    vertx.setTimer(ms, id -> p.complete());
    return p.future();
  }

  /** The phase, the stores, the backfill's progress (with its rate and time left) and the last verify. */
  public synchronized JsonObject status() {
    MigrationPhase phase = store.phase();
    if (state == null) {
      return new JsonObject().put("phase", phase.wireName()).put("source", store.name());
    }
    JsonObject out = state.toJson().put("phase", phase.wireName());
    if (verifying) {
      // Until its phase change has been made too, so that a "done" verify can be acted on at once.
      out.put("verify", new JsonObject().put("state", "running").put("passed", false));
    }
    out.remove("source_settings");
    out.remove("source_data_dir");
    JsonObject b = out.getJsonObject("backfill");
    SessionCopy running = backfill;
    // Not running once its run has ended, also when it failed (the log says why; a restart or a repair redoes it).
    if (running != null && !backfillRun.isComplete() && phase.inProgress() && !state.backfill().done()) {
      BackfillProgress p = running.progress();
      double rate = running.rate();
      long doneCount = p.copied() + p.gone() + p.failed();
      // Done only once persisted, as verify and cutover see it: the run's own progress says so a moment before.
      b.mergeIn(p.toJson()).put("done", false).put("finished_at", 0).put("running", true)
          .put("rate_per_s", Math.round(rate * 10) / 10.0);
      if (rate > 0 && p.total() > doneCount) {
        b.put("eta_s", Math.round((p.total() - doneCount) / rate));
      }
    } else {
      b.put("running", false);
    }
    b.remove("cursor");
    return out;
  }

  /** Starts a comparison of the two stores; its result appears in the status as {@code verify}. */
  public synchronized Future<JsonObject> verify() {
    MigrationPhase phase = store.phase();
    if (!phase.inProgress()) {
      return conflict("No migration is in progress (phase " + phase.wireName() + "): there is nothing to verify.");
    }
    if (!state.backfill().done()) {
      return conflict("The backfill has not finished (" + state.backfill().copied() + " of about "
          + state.backfill().total() + " sessions copied); verify once it has: follow it with GET "
          + "/v1/admin/migration.");
    }
    if (verifying) {
      return conflict("A verify is running already; its result will appear in GET /v1/admin/migration.");
    }
    verifying = true;
    new StoreComparison(vertx, store.source(), store.target(), PAGE, MAX_LISTED_DIFFERENCES).run()
        .recover(e -> Future.succeededFuture(new JsonObject().put("passed", false)
            .put("error", SnakepitException.from(e).getMessage()).put("at", System.currentTimeMillis())))
        .compose(result -> {
          JsonObject r = result.put("state", "done");
          LOG.info("Migration verify {}: {} sessions in the source, {} in the target, {} differences",
              r.getBoolean("passed") ? "passed" : "FAILED", r.getValue("source_count"), r.getValue("target_count"),
              r.getValue("differences_count"));
          MigrationPhase now = store.phase();
          MigrationPhase next = now == MigrationPhase.BACKFILL || now == MigrationPhase.VERIFIED
              ? (r.getBoolean("passed") ? MigrationPhase.VERIFIED : MigrationPhase.BACKFILL) : now;
          return persist(s -> s.withVerify(r).withPhase(next)).compose(v -> store.moveTo(next));
        }).onComplete(ar -> {
          synchronized (this) {
            verifying = false;
          }
        });
    return Future.succeededFuture(status());
  }

  /**
   * Repairs the store that does not answer reads from the one that does, in the background ({@link StoreRepair}):
   * what a failed verify listed (a write that reached one store only and failed, or was never acknowledged) is
   * then the same in both. Its progress shows as {@code backfill}; a verify, cutover or commit waits for it, and
   * a commit needs a verify passed after it.
   */
  public synchronized Future<JsonObject> repair() {
    MigrationPhase phase = store.phase();
    if (!phase.inProgress()) {
      return conflict("No migration is in progress (phase " + phase.wireName() + "): there is nothing to repair.");
    }
    if (!state.backfill().done()) {
      return conflict("The backfill (or a repair) is running (" + state.backfill().copied() + " of about "
          + state.backfill().total() + " sessions); follow it with GET /v1/admin/migration.");
    }
    if (verifying) {
      return conflict("A verify is running; repair once its result is in GET /v1/admin/migration.");
    }
    return repairFromStart("Migration repair started");
  }

  /**
   * Runs a repair from the first session, its progress shown as the backfill's. A passed verify no longer counts
   * once the stores are written by the repair: verified goes back to backfill.
   */
  private Future<JsonObject> repairFromStart(String why) {
    MigrationPhase phase = store.phase();
    MigrationPhase next = phase == MigrationPhase.VERIFIED ? MigrationPhase.BACKFILL : phase;
    return persist(s -> s.withBackfill(BackfillProgress.NONE).withPhase(next))
        .compose(v -> next == phase ? Future.succeededFuture() : store.moveTo(next))
        .map(v -> {
          LOG.info("{}: the {} store is made to hold what the {} store holds", why,
              next.readsSource() ? state.target() : state.source(), next.readsSource() ? state.source()
                  : state.target());
          runRepair();
          return status();
        });
  }

  /** Reads from the target from now on; the source keeps getting every write. */
  public synchronized Future<JsonObject> cutover() {
    MigrationPhase phase = store.phase();
    if (phase != MigrationPhase.BACKFILL && phase != MigrationPhase.VERIFIED) {
      return conflict(phase == MigrationPhase.CUTOVER ? "The migration is in cutover already."
          : "A cutover needs a migration whose backfill has finished; the phase is " + phase.wireName() + ".");
    }
    if (!state.backfill().done()) {
      return conflict("The backfill has not finished (" + state.backfill().copied() + " of about "
          + state.backfill().total() + " sessions copied); cut over once it has, and after a verify: follow it "
          + "with GET /v1/admin/migration.");
    }
    if (state.backfill().failed() > 0 && !state.verifiedAfterBackfill()) {
      // The target would answer reads without those sessions: not lost (the source has them), but not found.
      return conflict("The last backfill or repair could not copy " + state.backfill().failed() + " session(s) "
          + "(the node's log names them); the target would not find them once it answers reads. Run a repair "
          + "(POST /v1/admin/migration/repair, snakepit migrate verify --repair), or fix the target and repair, "
          + "before the cutover.");
    }
    return change(MigrationPhase.CUTOVER).map(v -> status());
  }

  /** Retires the source: the target alone from now on. Needs a cutover and a passed verify after the backfill. */
  public synchronized Future<JsonObject> commit() {
    MigrationPhase phase = store.phase();
    if (phase != MigrationPhase.CUTOVER) {
      return conflict("A commit needs the migration in cutover (POST /v1/admin/migration/cutover) after a passed "
          + "verify; the phase is " + phase.wireName() + ".");
    }
    if (verifying || !state.verifiedAfterBackfill()) {
      return conflict("A commit needs a passed verify: run POST /v1/admin/migration/verify (snakepit migrate verify)"
          + " and commit once it reports no difference.");
    }
    return retireSource();
  }

  private Future<JsonObject> retireSource() {
    SessionStore source = store.source();
    return change(MigrationPhase.COMMITTED).compose(v -> source.close().recover(e -> {
      LOG.warn("The retired {} store did not close cleanly: {}", source.name(), e.getMessage());
      return Future.succeededFuture();
    })).map(v -> {
      LOG.warn("Migration committed: this node now keeps its sessions in the {} store. Set sessions.adapter to {} "
          + "with settings {} in its configuration; until then the state file {} tells it so at every start.",
          state.target(), state.target(), state.targetSettings(), file.path());
      return status();
    });
  }

  /** Back to the source alone, from any phase before the commit; the target is closed and left as it is. */
  public synchronized Future<JsonObject> rollback() {
    MigrationPhase phase = store.phase();
    if (!phase.inProgress()) {
      return conflict(phase == MigrationPhase.COMMITTED ? "The migration was committed; the source is retired. To "
          + "go back, start a migration to the " + state.source() + " adapter." : "No migration is in progress "
          + "(phase " + phase.wireName() + "): there is nothing to roll back.");
    }
    return retireTarget();
  }

  private Future<JsonObject> retireTarget() {
    SessionCopy b = backfill;
    if (b != null) {
      b.stop();
    }
    SessionStore target = store.target();
    Future<?> copying = backfillRun;
    return change(MigrationPhase.ROLLED_BACK)
        .compose(v -> copying.transform(x -> target.close()).recover(e -> Future.succeededFuture()))
        .map(v -> {
          LOG.info("Migration rolled back: the {} store alone serves the sessions; the {} store was left as it is",
              state.source(), state.target());
          return status();
        });
  }

  // ---- a node of a cluster-wide migration (ClusterMigration) ---------------------------------------------------

  /**
   * Moves this node to the phase the coordinator of a cluster-wide migration moved to, without the checks the
   * coordinator made on its own state (its backfill and verify cover the shared stores; this node ran neither).
   * Already in that phase: nothing changes.
   */
  public synchronized Future<JsonObject> follow(MigrationPhase next) {
    MigrationPhase phase = store.phase();
    if (phase == next) {
      return Future.succeededFuture(status());
    }
    if (!phase.inProgress()) {
      return conflict("This node has no migration in progress (phase " + phase.wireName() + ") to move to "
          + next.wireName() + ".");
    }
    return switch (next) {
      case COMMITTED -> retireSource();
      case ROLLED_BACK -> retireTarget();
      case BACKFILL, VERIFIED, CUTOVER -> change(next).map(v -> status());
      default -> conflict("A node cannot be moved to " + next.wireName() + ".");
    };
  }

  /**
   * Makes this node the one that copies the shared stores, after the coordinator of a cluster-wide migration is
   * gone: repairs the store that does not answer reads from the start, as after a restart ({@link StoreRepair});
   * a verify, cutover or commit waits for it.
   */
  public synchronized Future<JsonObject> takeOver() {
    MigrationPhase phase = store.phase();
    if (!phase.inProgress()) {
      return conflict("This node has no migration in progress (phase " + phase.wireName() + ") to take over.");
    }
    if (backfill != null && !backfillRun.isComplete()) {
      return Future.succeededFuture(status());
    }
    return repairFromStart("Taking over the cluster's migration, with a repair");
  }

  /** The adapter and settings of the migration this node knows of (in progress or not), or null. */
  public synchronized MigrationState state() {
    return state;
  }

  /** Persists the new phase, then rewires the stores (so a crash in between restarts in the new phase). */
  private Future<Void> change(MigrationPhase next) {
    return persist(s -> s.withPhase(next)).compose(v -> store.moveTo(next));
  }

  private synchronized Future<Void> persist(UnaryOperator<MigrationState> change) {
    state = change.apply(state);
    MigrationState snapshot = state;
    // Writes in the order of the changes: a slow write must not land after a later one.
    writes = writes.transform(x -> file.write(snapshot));
    return writes;
  }

  private static <T> Future<T> conflict(String message) {
    return Future.failedFuture(conflictError(message));
  }

  private static SnakepitException conflictError(String message) {
    return new SnakepitException(ErrorCode.CONFLICT, message + " Nothing was changed.");
  }

  /** Stops the backfill (the next start repairs the stores from the beginning) and waits for state writes. */
  public Future<Void> close() {
    SessionCopy b;
    Future<?> run;
    Future<Void> w;
    synchronized (this) {
      b = backfill;
      run = backfillRun;
      w = writes;
    }
    if (b != null) {
      b.stop();
    }
    return run.transform(x -> w).transform(x -> Future.succeededFuture());
  }
}
