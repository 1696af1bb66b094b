package io.snakepit.supervisor;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;

/**
 * A named pool of Python workers: a fixed number of slots, each holding one
 * process at a time, and a bounded queue of calls waiting for a free worker.
 * Its {@link SlotSupervisor} starts, restarts, recycles and watches the
 * workers and declares the pool degraded when they keep dying; its
 * {@link CallDispatcher} sends each call to a worker or queues it. The two
 * meet only here. Runs on the supervisor's event loop only.
 */
public final class WorkerPool {

  private final PoolConfig config;
  private final Vertx vertx;
  private final ProcessSupervisor supervisor;
  private final PoolMetrics metrics;
  private final SlotSupervisor slots;
  private final CallDispatcher calls;
  private Forkserver forkserver;
  /** A running reload's new forkserver not adopted yet, and old forkservers still ending their workers. */
  private final List<Forkserver> otherForkservers = new ArrayList<>();
  /** The running or last reload, or null. */
  private PoolReload reload;
  private int reloads;
  private boolean stopping;

  /** @param incarnation this run of the supervisor, which every worker id ends with */
  WorkerPool(PoolConfig config, Vertx vertx, ProcessSupervisor supervisor, String incarnation) {
    this.config = config;
    this.vertx = vertx;
    this.supervisor = supervisor;
    this.metrics = new PoolMetrics(supervisor.meterRegistry(), config.name());
    this.slots = new SlotSupervisor(this, incarnation);
    this.calls = new CallDispatcher(this, slots);
  }

  /** The pool's name, as configured. */
  public String name() {
    return config.name();
  }

  /** Whether the pool's workers keep failing, so calls fail fast with {@code pool_degraded}. */
  public boolean isDegraded() {
    return slots.isDegraded();
  }

  PoolConfig config() {
    return config;
  }

  Vertx vertx() {
    return vertx;
  }

  ProcessSupervisor supervisor() {
    return supervisor;
  }

  PoolMetrics metrics() {
    return metrics;
  }

  /** Once stopping, the pool takes no calls and starts no workers. */
  boolean isStopping() {
    return stopping;
  }

  /**
   * Starts the pool's forkserver, then every worker at once; completes when
   * all are ready, or when the pool gives up and degrades. Fails (with a
   * {@link io.snakepit.config.ConfigException} naming the key) when the
   * interpreter cannot run or a configured limit cannot be enforced here.
   */
  Future<Void> start() {
    forkserver = supervisor.forkserverFor(this);
    return forkserver.start().compose(v -> slots.start());
  }

  // ---- reload ----------------------------------------------------------------------------------

  /**
   * Replaces the pool's forkserver and workers with ones running the code now
   * on disk ({@link PoolReload}). Completes with the reload's description once
   * done; fails with {@code reload_failed}, or {@code reload_in_progress}
   * while another reload of the pool runs (a second request is refused, not joined).
   *
   * @param handoff where retiring workers' session state goes; null when the node has none
   */
  Future<JsonObject> reload(SessionHandoff handoff) {
    if (stopping) {
      return Future.failedFuture(new SnakepitException(ErrorCode.SHUTTING_DOWN,
          "Pool '" + name() + "' is stopping; it cannot be reloaded."));
    }
    if (reload != null && reload.isRunning()) {
      return Future.failedFuture(new SnakepitException(ErrorCode.RELOAD_IN_PROGRESS,
          "Pool '" + name() + "' is being reloaded already.", null, new JsonObject().put("pool", name())));
    }
    reload = new PoolReload(this, slots, handoff, ++reloads);
    return reload.run();
  }

  /** The pool's forkserver, the one new workers start on. */
  Forkserver forkserver() {
    return forkserver;
  }

  /** A reload's new forkserver, stopped with the pool until it is adopted or dropped. */
  void addCandidate(Forkserver fs) {
    otherForkservers.add(fs);
  }

  /** A failed reload's new forkserver: stopped now (it ends any worker it started). */
  void dropCandidate(Forkserver fs) {
    otherForkservers.remove(fs);
    fs.stop();
  }

  /** The reload's new forkserver becomes the pool's; the old one stops once its last worker has exited. */
  void adoptForkserver(Forkserver fs) {
    Forkserver old = forkserver;
    forkserver = fs;
    otherForkservers.remove(fs);
    otherForkservers.add(old);
    old.retireWhenIdle().onComplete(ar -> otherForkservers.remove(old));
  }

  /** A reload's new worker took its slot: queued calls may go to it. */
  void onSlotTaken() {
    calls.drainQueue();
  }

  /** Has the forkserver start a worker process. */
  void launch(WorkerProcess w) {
    forkserver.launch(w);
  }

  /** A worker breached a limit: killed now, and a new one takes its slot. */
  void replaceOverLimit(WorkerProcess w, String reason) {
    slots.replaceOverLimit(w, reason);
  }

  // ---- calls -----------------------------------------------------------------------------------

  /** Runs the call on a worker now, queues it, or fails it (stopping, busy session worker, degraded, full). */
  void submit(PoolCall call) {
    calls.submit(call);
  }

  /** Takes a queued call out of the queue (its caller cancelled it). */
  void dequeue(PoolCall call) {
    calls.dequeue(call);
  }

  /** A worker finished a call: reuse its slot, or retire it if it has served enough. */
  void onCallDone(WorkerProcess w) {
    slots.onCallDone(w);
    calls.drainQueue();
  }

  // ---- workers ---------------------------------------------------------------------------------

  void onWorkerReady(WorkerProcess w) {
    slots.onWorkerReady(w);
    calls.drainQueue();
    refreshMetrics();
  }

  void onWorkerExit(WorkerProcess w, WorkerState was, int exitCode, String stderr) {
    slots.onWorkerExit(w, was, exitCode, stderr);
  }

  /** The pool just degraded: queued calls fail now if no worker is ready to take them. */
  void onDegraded() {
    calls.failQueuedIfNoWorkerReady();
  }

  /** Snapshots workers by state, queue depth and degradation for the gauges. */
  void refreshMetrics() {
    metrics.refresh(slots.allWorkers(), calls.queueDepth(), slots.isDegraded());
  }

  /** Drains in-flight calls up to drain-timeout-ms, then stops every worker; completes when all have exited. */
  Future<Void> stop() {
    stopping = true;
    calls.failQueued(() -> new SnakepitException(ErrorCode.SHUTTING_DOWN,
        "The node is stopping; the call had not reached a worker."));
    return slots.stop().transform(v -> {
      List<Future<Void>> ends = new ArrayList<>();
      if (forkserver != null) {
        ends.add(forkserver.stop());
      }
      new ArrayList<>(otherForkservers).forEach(fs -> ends.add(fs.stop()));
      return Future.join(ends).mapEmpty();
    });
  }

  /** Sends SESSION_CLOSED to every live worker. */
  void sessionClosed(String sessionId) {
    for (WorkerProcess w : allWorkers()) {
      w.sessionClosed(sessionId);
    }
  }

  /** The workers in slots, then the retiring ones still draining. */
  List<WorkerProcess> allWorkers() {
    return slots.allWorkers();
  }

  int readyCount() {
    return slots.readyCount();
  }

  /** The tools the adapter offers, as the first ready worker reported them. */
  JsonArray tools() {
    return slots.tools();
  }

  int queueDepth() {
    return calls.queueDepth();
  }

  /** The pool as {@code GET /v1/pools} shows it. */
  JsonObject toJson() {
    return slots.addFigures(new JsonObject().put("name", config.name()).put("size", config.size())
        .put("ready", slots.readyCount()).put("inflight", slots.inflightCount())
        .put("degraded", slots.isDegraded()).put("queue_depth", calls.queueDepth()).put("adapter", config.adapter())
        .put("concurrency", config.concurrency())
        .put("python", forkserver == null ? null : forkserver.pythonJson())
        .put("forkserver", forkserver == null ? null : forkserver.toJson())
        .put("limits", limitsJson())
        .put("reload", reload == null ? null : reload.toJson()));
  }

  private JsonObject limitsJson() {
    WorkerLimits l = config.limits();
    return new JsonObject().put("max_memory_mb", l.memoryMb()).put("max_processes", l.processes())
        .put("max_open_files", l.openFiles()).put("max_cpu_s_per_call", l.cpuMsPerCall() / 1000);
  }
}
