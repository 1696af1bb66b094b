package io.snakepit.session.migration;

import io.snakepit.contract.Addresses;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.shareddata.AsyncMap;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One migration over every node of a cluster whose nodes share their session store (docs/migration.md): each
 * node's {@link StoreMigration} decorates its own view of the shared store, and all of them must write both
 * stores before the copy starts, read from the target together, and retire a store together.
 *
 * <p>The node an operator asks becomes the <em>coordinator</em>: it records the migration in the cluster's
 * shared data ({@value #MAP}), moves every other node of the view through the phase over its
 * {@code snakepit.node.<id>.migration} address, and alone runs the backfill, the verify and the repair (they
 * read the shared stores, which hold every node's writes). Another node asked forwards to the coordinator, or
 * takes over when the coordinator has left (and repairs the stores from the start before a verify counts).
 * A node that starts while a migration is under way reads the record and opens both stores in its phase before
 * it serves ({@link #adopt}).
 *
 * <p>Nodes may be in neighbouring phases for a moment while a step reaches them one by one; every such pair
 * writes both stores, and counters keep per-node totals, so no acknowledged write is lost meanwhile.
 */
public final class ClusterMigration {

  private static final Logger LOG = LoggerFactory.getLogger(ClusterMigration.class);
  /** The cluster-wide map holding the record of the cluster's migration. */
  static final String MAP = "snakepit.sessions.migration";
  static final String KEY = "cluster";
  /** How long a node may take to answer a step: opening a store and draining the writes in flight. */
  static final long STEP_TIMEOUT_MS = 120_000;
  static final long STATUS_TIMEOUT_MS = 5_000;
  /** How often a node compares its phase with the cluster's record ({@link #watch}). */
  static final long RECONCILE_MS = 5_000;

  private final Vertx vertx;
  private final String nodeId;
  private final StoreMigration local;
  private final String configuredAdapter;
  private final JsonObject configuredSettings;
  private long timer = -1;
  private Future<?> queue = Future.succeededFuture();
  private boolean reconciling;

  /**
   * @param configuredAdapter  the adapter {@code sessions.adapter} names
   * @param configuredSettings that adapter's section
   */
  public ClusterMigration(Vertx vertx, String nodeId, StoreMigration local, String configuredAdapter,
                          JsonObject configuredSettings) {
    this.vertx = vertx;
    this.nodeId = nodeId;
    this.local = local;
    this.configuredAdapter = configuredAdapter;
    this.configuredSettings = configuredSettings == null ? new JsonObject() : configuredSettings;
  }

  /** The address where node {@code id} takes the steps of a cluster-wide migration. */
  public static String address(String id) {
    return Addresses.node(id, "migration");
  }

  /** Whether this node's migrations are cluster-wide: clustered, over a store its nodes share. */
  public static boolean applies(Vertx vertx, StoreMigration local) {
    MigratingSessionStore s = local.store();
    return vertx.isClustered() && (s.source() != null ? s.source() : s.target()).shared();
  }

  // ---- the operator's steps, from Addresses.MIGRATION on any node ------------------------------------------------

  /** An operator's step ({@code op} of {@link Addresses#MIGRATION}) on the cluster's migration. */
  public Future<JsonObject> step(JsonObject body) {
    return record().compose(rec -> {
      boolean running = rec != null && inProgress(rec);
      // A new migration is coordinated by the node asked; anything else by the last one's coordinator, while
      // it is there: the status of a finished migration is the one that ran its backfill and verify.
      String coordinator = rec == null || !running && "start".equals(body.getString("op"))
          ? nodeId : rec.getString("coordinator");
      if (coordinator.equals(nodeId)) {
        return coordinate(body, rec);
      }
      return nodes().compose(nodes -> {
        if (nodes.contains(coordinator)) {
          // A status must answer even while a coordinator that died is still in the view.
          return request(coordinator, body.copy().put("coordinate", true),
              "status".equals(body.getString("op", "status")) ? STATUS_TIMEOUT_MS : STEP_TIMEOUT_MS);
        }
        if (!running) {
          return coordinate(body, rec);
        }
        LOG.warn("The coordinator {} of the cluster's migration has left; node {} takes over", coordinator, nodeId);
        return putRecord(rec.copy().put("coordinator", nodeId)).compose(v -> local.takeOver())
            .compose(v -> coordinate(body, rec.copy().put("coordinator", nodeId)));
      });
    });
  }

  /** A message on this node's {@link #address}: a step from the coordinator, or one forwarded to it. */
  public Future<JsonObject> onNodeAddress(JsonObject body) {
    if (Boolean.TRUE.equals(body.getValue("coordinate"))) {
      JsonObject b = body.copy();
      b.remove("coordinate");
      return record().compose(rec -> coordinate(b, rec));
    }
    String op = body.getString("op", "status");
    return "status".equals(op) ? Future.succeededFuture(local.status()) : serially(() -> follow(op, body));
  }

  /** A step from the coordinator, applied after any other step or catch-up on this node has ended. */
  private Future<JsonObject> follow(String op, JsonObject body) {
    return switch (op) {
      case "start" -> {
        // Idempotent: a node that adopted this migration as it started, or took an earlier try of this step.
        MigrationState st = local.state();
        if (local.store().phase().inProgress() && sameTarget(st, body.getString("to"),
            body.getJsonObject("settings", new JsonObject()))) {
          yield Future.succeededFuture(local.status());
        }
        yield local.start(body.copy().put("follower", true));
      }
      case "phase" -> local.follow(phase(body.getValue("phase")));
      default -> Future.failedFuture(new SnakepitException(ErrorCode.BAD_REQUEST, "unknown step \"" + op + "\""));
    };
  }

  private Future<JsonObject> coordinate(JsonObject body, JsonObject rec) {
    String op = body.getString("op", "status");
    return switch (op) {
      case "status" -> status();
      case "start" -> start(body);
      case "verify" -> local.verify().compose(v -> status());
      case "repair" -> local.repair().compose(v -> status());
      case "cutover" -> move(MigrationPhase.CUTOVER, local::cutover);
      case "commit" -> move(MigrationPhase.COMMITTED, local::commit);
      case "rollback" -> move(MigrationPhase.ROLLED_BACK, local::rollback);
      default -> Future.failedFuture(new SnakepitException(ErrorCode.BAD_REQUEST, "'op' must be one of start, "
          + "status, verify, repair, cutover, commit, rollback; got \"" + op + "\""));
    };
  }

  private Future<JsonObject> start(JsonObject body) {
    String adapter;
    try {
      adapter = local.checkStart(body);
    } catch (SnakepitException e) {
      return Future.failedFuture(e);
    }
    JsonObject settings = body.getJsonObject("settings", new JsonObject());
    long now = System.currentTimeMillis();
    JsonObject rec = new JsonObject().put("phase", MigrationPhase.DUAL_WRITE.wireName()).put("to", adapter)
        .put("settings", settings).put("coordinator", nodeId).put("started_at", now).put("changed_at", now);
    JsonObject step = new JsonObject().put("op", "start").put("to", adapter).put("settings", settings);
    List<String> started = new ArrayList<>();
    // Every other node writes both stores before this one starts the copy: nothing written anywhere escapes it.
    return putRecord(rec).compose(v -> toOthers(step, started))
        .compose(v -> local.start(new JsonObject().put("to", adapter).put("settings", settings)))
        .compose(v -> putRecord(rec.copy().put("phase", MigrationPhase.BACKFILL.wireName())
            .put("changed_at", System.currentTimeMillis())))
        // Nodes that joined while the step went round read the record as they started, or get the step now.
        .compose(v -> toOthers(step, started))
        .compose(v -> status())
        .recover(e -> {
          LOG.warn("The cluster's migration did not start ({}); rolling back the nodes that had started it: {}",
              e.getMessage(), started);
          JsonObject back = new JsonObject().put("op", "phase").put("phase", MigrationPhase.ROLLED_BACK.wireName());
          List<Future<?>> undo = new ArrayList<>();
          started.forEach(id -> undo.add(request(id, back, STEP_TIMEOUT_MS)));
          if (local.store().phase().inProgress()) {
            undo.add(local.rollback()); // it started, and a node that joined meanwhile did not
          }
          return Future.join(undo).transform(x -> putRecord(rec.copy().put("phase",
              MigrationPhase.ROLLED_BACK.wireName()).put("changed_at", System.currentTimeMillis())))
              .transform(x -> Future.failedFuture(e));
        });
  }

  /** Sends {@code step} to every node of the view not in {@code done} but this one, adding each that took it. */
  private Future<Void> toOthers(JsonObject step, List<String> done) {
    return nodes().compose(nodes -> {
      List<Future<JsonObject>> sent = new ArrayList<>();
      for (String id : nodes) {
        if (!id.equals(nodeId) && !done.contains(id)) {
          sent.add(request(id, step, STEP_TIMEOUT_MS).onSuccess(x -> {
            synchronized (done) {
              done.add(id);
            }
          }).recover(e -> Future.failedFuture(new SnakepitException(SnakepitException.from(e).errorCode(),
              "node " + id + ": " + SnakepitException.from(e).getMessage()))));
        }
      }
      // Every answer first, so that the nodes that took the step are all in `done` for a rollback.
      return Future.join(sent).mapEmpty();
    });
  }

  /**
   * A phase change: this node's own step first (its checks decide; a refusal changes nothing), recorded, then
   * every other node. Run again after a node did not answer, it sends the phase to the nodes again.
   */
  private Future<JsonObject> move(MigrationPhase goal, java.util.function.Supplier<Future<JsonObject>> own) {
    Future<JsonObject> first = local.store().phase() == goal ? Future.succeededFuture() : own.get();
    return first.compose(v -> record()).compose(rec -> rec == null ? Future.succeededFuture()
            : putRecord(rec.copy().put("phase", goal.wireName()).put("changed_at", System.currentTimeMillis())))
        .compose(v -> nodes()).compose(nodes -> {
          JsonObject step = new JsonObject().put("op", "phase").put("phase", goal.wireName());
          Map<String, Future<JsonObject>> sent = new TreeMap<>();
          nodes.stream().filter(id -> !id.equals(nodeId)).forEach(id -> sent.put(id,
              request(id, step, STEP_TIMEOUT_MS)));
          return Future.join(new ArrayList<>(sent.values())).transform(x -> {
            JsonObject missed = new JsonObject();
            sent.forEach((id, f) -> {
              if (f.failed()) {
                missed.put(id, SnakepitException.from(f.cause()).getMessage());
              }
            });
            if (!missed.isEmpty()) {
              return Future.failedFuture(new SnakepitException(ErrorCode.STORE_UNAVAILABLE, "The migration is in "
                  + goal.wireName() + " here, but not yet on " + String.join(", ", missed.fieldNames())
                  + ": run the same step again to finish it (a node that restarts reads the phase as it starts).",
                  null, new JsonObject().put("nodes_not_moved", missed)));
            }
            return status();
          });
        });
  }

  private Future<JsonObject> status() {
    JsonObject own = local.status();
    return nodes().compose(nodes -> {
      Map<String, Future<JsonObject>> asked = new TreeMap<>();
      nodes.stream().filter(id -> !id.equals(nodeId)).forEach(id -> asked.put(id,
          request(id, new JsonObject().put("op", "status"), STATUS_TIMEOUT_MS)));
      return Future.join(new ArrayList<>(asked.values())).transform(x -> {
        JsonObject perNode = new JsonObject().put(nodeId, new JsonObject().put("phase", own.getString("phase")));
        asked.forEach((id, f) -> perNode.put(id, f.succeeded()
            ? new JsonObject().put("phase", f.result().getString("phase"))
            : new JsonObject().put("phase", "unknown").put("error", SnakepitException.from(f.cause()).getMessage())));
        return Future.succeededFuture(own.put("scope", "cluster").put("coordinator", nodeId).put("nodes", perNode));
      });
    });
  }

  // ---- a node starting while the cluster migrates ------------------------------------------------------------

  /**
   * Brings this node, as it starts and before it serves, to the cluster's migration: opens both stores in the
   * phase the record says (or the target alone once committed, unless the configuration already names it).
   */
  public Future<Void> adopt() {
    return adopt(configuredAdapter, configuredSettings);
  }

  private Future<Void> adopt(String configuredAdapter, JsonObject configuredSettings) {
    return record().compose(rec -> {
      if (rec == null) {
        return Future.succeededFuture();
      }
      MigrationPhase phase = MigrationPhase.fromWire(rec.getString("phase"));
      MigrationPhase mine = local.store().phase();
      MigrationState st = local.state();
      boolean same = sameTarget(st, rec.getString("to"), rec.getJsonObject("settings"));
      if (phase == MigrationPhase.ROLLED_BACK && !mine.inProgress()) {
        return Future.succeededFuture();
      }
      if (phase == MigrationPhase.COMMITTED && (mine == MigrationPhase.COMMITTED && same
          || rec.getString("to").equals(configuredAdapter) && rec.getJsonObject("settings")
          .equals(configuredSettings))) {
        return Future.succeededFuture(); // committed here too, or the configuration names the target already
      }
      if (mine.inProgress() && !same) {
        return Future.failedFuture(new SnakepitException(ErrorCode.CONFLICT, "This node is migrating its sessions "
            + "to the " + st.target() + " adapter with settings " + st.targetSettings() + ", the cluster to the "
            + rec.getString("to") + " adapter with settings " + rec.getJsonObject("settings") + " (coordinator "
            + rec.getString("coordinator") + "). Roll this node's migration back, or remove its "
            + "<data-dir>/migration/state.json with the node stopped, before it joins."));
      }
      LOG.info("The cluster's sessions are migrating to the {} adapter (phase {}, coordinator {}): this node "
          + "joins in", rec.getString("to"), phase.wireName(), rec.getString("coordinator"));
      Future<JsonObject> joined = mine.inProgress() ? Future.succeededFuture()
          : local.start(new JsonObject().put("to", rec.getString("to")).put("settings", rec.getJsonObject("settings"))
              .put("follower", true));
      return joined.compose(v -> switch (phase) {
        case COMMITTED -> local.follow(MigrationPhase.CUTOVER).compose(x -> local.follow(MigrationPhase.COMMITTED));
        case DUAL_WRITE, BACKFILL, VERIFIED -> Future.succeededFuture();
        default -> local.follow(phase);
      }).mapEmpty();
    });
  }

  /**
   * Every {@value #RECONCILE_MS} ms, a node that is not the coordinator compares its phase with the record and
   * catches up (a step it missed, not answering; or a start it missed, starting in the instant the step went
   * round). A write it made meanwhile to the source alone is a difference the verify reports and a repair
   * mends before a commit can count. Cancelled with {@link #close}.
   */
  public void watch() {
    timer = vertx.setPeriodic(RECONCILE_MS, t -> {
      if (reconciling) {
        return;
      }
      reconciling = true;
      record().compose(rec -> rec == null || nodeId.equals(rec.getString("coordinator"))
              ? Future.succeededFuture() : serially(() -> adopt(configuredAdapter, configuredSettings)))
          .onFailure(e -> LOG.warn("Could not compare this node's migration phase with the cluster's: {}",
              e.getMessage()))
          .onComplete(ar -> reconciling = false);
    });
  }

  /** Stops {@link #watch}. */
  public void close() {
    vertx.cancelTimer(timer);
  }

  // ---- plumbing ---------------------------------------------------------------------------------------------

  /**
   * Runs {@code step} once every earlier one has ended: a catch-up and a step from the coordinator that arrive
   * together must not both start dual writes, or retire a store twice.
   */
  private synchronized <T> Future<T> serially(java.util.function.Supplier<Future<T>> step) {
    Future<T> next = queue.transform(x -> step.get());
    queue = next;
    return next;
  }

  /** Whether this node's migration state {@code st} (null: none) goes to that adapter with those settings. */
  private static boolean sameTarget(MigrationState st, String to, JsonObject settings) {
    return st != null && st.target().equals(to) && st.targetSettings().equals(settings);
  }

  private static MigrationPhase phase(Object wire) {
    try {
      return MigrationPhase.fromWire((String) wire);
    } catch (RuntimeException e) {
      throw new SnakepitException(ErrorCode.BAD_REQUEST, "'phase' must be one of backfill, verified, cutover, "
          + "committed, rolled_back; got " + wire);
    }
  }

  private static boolean inProgress(JsonObject rec) {
    return MigrationPhase.fromWire(rec.getString("phase")).inProgress();
  }

  private Future<AsyncMap<String, JsonObject>> map() {
    return vertx.sharedData().getAsyncMap(MAP);
  }

  private Future<JsonObject> record() {
    return map().compose(m -> m.get(KEY));
  }

  private Future<Void> putRecord(JsonObject rec) {
    return map().compose(m -> m.put(KEY, rec));
  }

  /** The ids of the nodes in this node's view (this one included), as the router knows them. */
  private Future<Set<String>> nodes() {
    return vertx.eventBus().<JsonObject>request(Addresses.CLUSTER_VIEW, new JsonObject(),
            new DeliveryOptions().setSendTimeout(STATUS_TIMEOUT_MS))
        .map(m -> {
          Set<String> ids = new LinkedHashSet<>();
          JsonArray nodes = m.body().getJsonArray("nodes", new JsonArray());
          for (int i = 0; i < nodes.size(); i++) {
            ids.add(nodes.getJsonObject(i).getString("id"));
          }
          ids.add(nodeId);
          return ids;
        });
  }

  private Future<JsonObject> request(String id, JsonObject body, long timeoutMs) {
    return vertx.eventBus().<JsonObject>request(address(id), body, new DeliveryOptions().setSendTimeout(timeoutMs))
        .map(m -> m.body()).recover(e -> Future.failedFuture(SnakepitException.from(e)));
  }
}
