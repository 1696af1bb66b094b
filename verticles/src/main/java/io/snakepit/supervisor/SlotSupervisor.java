package io.snakepit.supervisor;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The slots of one {@link WorkerPool}, each holding one process at a time:
 * starts them, restarts crashed workers with backoff, recycles old or bloated
 * ones, watches them with heartbeats, and declares the pool degraded (and
 * recovered) as workers keep dying (or come up again). Runs on the
 * supervisor's event loop only.
 */
final class SlotSupervisor {

  // The pool's logger: these lines are about the pool, and operators filter on that name.
  private static final Logger LOG = LoggerFactory.getLogger(WorkerPool.class);

  private final WorkerPool pool;
  private final PoolConfig config;
  private final String incarnation;
  private final WorkerProcess[] slots;
  private final int[] generations;
  private final long[] backoffMs;
  private final Set<WorkerProcess> retiring = new LinkedHashSet<>();
  /** A reload's new workers, started beside the slots' and told apart here until they take their slot. */
  private final Map<WorkerProcess, Promise<WorkerProcess>> replacements = new LinkedHashMap<>();
  private final Deque<Long> recentFailures = new ArrayDeque<>();
  private final Promise<Void> firstReady = Promise.promise();
  private boolean degraded;
  private long heartbeatTimer = -1;
  private boolean measuringUsage;
  private long restarts;
  private long limitBreaches;
  private long recycles;
  private long crashes;

  /** @param incarnation this run of the supervisor, the last part of every worker id (see {@link #spawn}) */
  SlotSupervisor(WorkerPool pool, String incarnation) {
    this.pool = pool;
    this.config = pool.config();
    this.incarnation = incarnation;
    this.slots = new WorkerProcess[config.size()];
    this.generations = new int[config.size()];
    this.backoffMs = new long[config.size()];
  }

  /** Starts every worker at once; completes when all are ready, or when the pool gives up and degrades. */
  Future<Void> start() {
    for (int i = 0; i < slots.length; i++) {
      spawn(i);
    }
    heartbeatTimer = pool.vertx().setPeriodic(config.heartbeatMs(), t -> heartbeat());
    pool.refreshMetrics();
    return firstReady.future();
  }

  /**
   * A new worker for the slot. Its id counts the slot's generations within
   * this run, and ends with the run's incarnation: a node restarted with the
   * same node id starts counting again, and its workers must not pass for the
   * ones that held sessions' state before.
   */
  private void spawn(int slot) {
    if (pool.isStopping()) {
      return;
    }
    WorkerProcess w = newWorker(slot);
    slots[slot] = w;
    pool.launch(w);
  }

  private WorkerProcess newWorker(int slot) {
    String id = config.name() + "-" + slot + "." + generations[slot]++ + "@" + incarnation;
    return new WorkerProcess(id, slot, pool);
  }

  // ---- a reload's replacements -----------------------------------------------------------------

  /**
   * Starts a reload's new worker for a slot on {@code forkserver}, beside the
   * slot's current worker, which keeps serving. Completes with the worker
   * once it is ready (it takes no calls until {@link #takeSlot}), or fails
   * with why it exited before.
   */
  Future<WorkerProcess> startReplacement(int slot, Forkserver forkserver) {
    WorkerProcess w = newWorker(slot);
    Promise<WorkerProcess> ready = Promise.promise();
    replacements.put(w, ready);
    forkserver.launch(w);
    pool.refreshMetrics();
    return ready.future();
  }

  /**
   * The ready replacement takes its slot; the slot's worker (if any) retires
   * as a recycled one does: it finishes its calls in flight, then stops.
   * Returns false (and ends the replacement) if it is no longer ready.
   */
  boolean takeSlot(WorkerProcess w, String reason) {
    if (replacements.remove(w) == null || !w.isReady() || pool.isStopping()) {
      w.kill("reload: the replacement could not take its slot");
      return false;
    }
    WorkerProcess old = slots[w.slot()];
    slots[w.slot()] = w;
    backoffMs[w.slot()] = 0;
    if (old != null) {
      retiring.add(old);
      old.stop(config.drainTimeoutMs(), reason);
    }
    pool.refreshMetrics();
    return true;
  }

  /** Ends a replacement that will not take its slot (its reload stopped). */
  void dropReplacement(WorkerProcess w) {
    if (replacements.remove(w) != null) {
      w.kill("reload stopped");
    }
  }

  // ---- the pool's view of its workers ----------------------------------------------------------

  int size() {
    return slots.length;
  }

  /** The worker in a slot, or null while the slot waits for a restart. */
  WorkerProcess inSlot(int slot) {
    return slots[slot];
  }

  /** The ready worker with this id, or null. */
  WorkerProcess readyWorker(String workerId) {
    for (WorkerProcess w : slots) {
      if (w != null && w.isReady() && w.id().equals(workerId)) {
        return w;
      }
    }
    return null;
  }

  /** The workers in slots, then the retiring ones still draining. */
  List<WorkerProcess> allWorkers() {
    List<WorkerProcess> all = new ArrayList<>();
    for (WorkerProcess w : slots) {
      if (w != null) {
        all.add(w);
      }
    }
    all.addAll(retiring);
    all.addAll(replacements.keySet());
    return all;
  }

  int readyCount() {
    int n = 0;
    for (WorkerProcess w : slots) {
      if (w != null && w.isReady()) {
        n++;
      }
    }
    return n;
  }

  /** Calls in flight on the workers in slots. */
  int inflightCount() {
    int n = 0;
    for (WorkerProcess w : slots) {
      if (w != null) {
        n += w.inflightCount();
      }
    }
    return n;
  }

  /** The tools the adapter offers, as the first ready worker reported them. */
  JsonArray tools() {
    for (WorkerProcess w : slots) {
      if (w != null && w.isReady()) {
        return w.tools();
      }
    }
    return new JsonArray();
  }

  boolean isDegraded() {
    return degraded;
  }

  /** Adds the slots' figures to the pool's description, in the order {@code GET /v1/pools} shows them. */
  JsonObject addFigures(JsonObject out) {
    JsonArray ids = new JsonArray();
    allWorkers().forEach(w -> ids.add(w.id()));
    return out.put("restarts", restarts).put("recycles", recycles).put("crashes", crashes)
        .put("limit_breaches", limitBreaches).put("workers", ids);
  }

  // ---- worker lifecycle ------------------------------------------------------------------------

  void onWorkerReady(WorkerProcess w) {
    Promise<WorkerProcess> replacement = replacements.get(w);
    if (replacement != null) {
      pool.supervisor().publish("worker.started", w.toJson());
      LOG.info("Worker {} ready (pid {}) in {} ms, to replace the slot's worker", w.id(), w.pid(), w.startupMillis());
      replacement.tryComplete(w);
      return;
    }
    backoffMs[w.slot()] = 0;
    pool.metrics().tools(w.tools());
    pool.supervisor().publish("worker.started", w.toJson());
    LOG.info("Worker {} ready (pid {}) in {} ms", w.id(), w.pid(), w.startupMillis());
    if (degraded) {
      degraded = false;
      LOG.info("Pool {} recovered", config.name());
      pool.supervisor().publish("pool.recovered", new JsonObject().put("pool", config.name()));
    }
    if (readyCount() == slots.length) {
      firstReady.tryComplete();
    }
  }

  /** A worker finished a call: it finishes draining, or retires if it has served enough. */
  void onCallDone(WorkerProcess w) {
    if (w.state() == WorkerState.DRAINING) {
      w.shutdownIfDrained();
    } else if (w.isReady()) {
      String servedEnough = w.servedEnough();
      if (servedEnough != null) {
        recycle(w, servedEnough);
      }
    }
  }

  void onWorkerExit(WorkerProcess w, WorkerState was, int exitCode, String stderr) {
    Promise<WorkerProcess> replacement = replacements.remove(w);
    if (replacement != null) {
      String why = w.killReason() != null ? w.killReason() : "exit code " + exitCode;
      LOG.warn("Worker {}, a reload's replacement, {} ({})", w.id(),
          was == WorkerState.STARTING ? "failed to start" : "died", why);
      replacement.tryFail("worker " + w.id() + " " + (was == WorkerState.STARTING ? "failed to start" : "died")
          + " (" + why + ")" + (stderr == null || stderr.isBlank() ? "" : ":\n" + tail(stderr)));
      pool.refreshMetrics();
      return;
    }
    if (retiring.remove(w)) {
      LOG.info("Retired worker {} exited ({})", w.id(), exitCode);
      pool.refreshMetrics();
      return;
    }
    if (slots[w.slot()] != w || pool.isStopping()) {
      pool.refreshMetrics();
      return;
    }
    crashes++;
    pool.metrics().crashed();
    boolean neverReady = was == WorkerState.STARTING;
    String why = w.killReason() != null ? w.killReason() : "exit code " + exitCode;
    long now = System.currentTimeMillis();
    recentFailures.addLast(now);
    while (!recentFailures.isEmpty() && now - recentFailures.peekFirst() > config.restartWindowMs()) {
      recentFailures.removeFirst();
    }
    boolean degrades = !degraded && recentFailures.size() > config.restartMax();
    // Degraded pools keep probing, but only at the slowest pace, so they heal without looping hot. A worker
    // that had been ready is replaced at once the first time (a forked replacement is ready in milliseconds);
    // one that failed to start, or a slot failing again before a worker came up, backs off.
    long delay = degraded || degrades ? config.backoffMaxMs()
        : !neverReady && backoffMs[w.slot()] == 0 ? 0
        : Math.min(config.backoffMaxMs(), backoffMs[w.slot()] == 0 ? config.backoffMinMs() : backoffMs[w.slot()] * 2);
    LOG.warn("Worker {} {} ({}); restarting", w.id(), neverReady ? "failed to start" : "died", why);
    pool.supervisor().publish("worker.crashed", w.toJson().put("exit_code", exitCode).put("reason", why)
        .put("stderr", stderr).put("restart_in_ms", delay));
    if (degrades) {
      degraded = true;
      LOG.error("Pool {} degraded: {} worker failures within {} ms (restart-max={}). Last stderr:\n{}",
          config.name(), recentFailures.size(), config.restartWindowMs(), config.restartMax(), stderr);
      pool.supervisor().publish("pool.degraded", new JsonObject().put("pool", config.name())
          .put("failures", recentFailures.size()).put("stderr", stderr));
      firstReady.tryComplete();
      pool.onDegraded();
    }
    backoffMs[w.slot()] = delay;
    slots[w.slot()] = null;
    pool.refreshMetrics();
    Runnable restart = () -> {
      if (!pool.isStopping() && slots[w.slot()] == null) {
        restarts++;
        pool.metrics().restarted();
        spawn(w.slot());
        pool.refreshMetrics();
      }
    };
    if (delay == 0) {
      restart.run();
    } else {
      pool.vertx().setTimer(delay, t -> restart.run());
    }
  }

  /**
   * A worker breached a limit of the pool: it is killed now (its calls have
   * failed with {@code worker_limit_exceeded}) and a new worker takes its
   * slot at once. Not a crash: the pool's restart intensity does not count it.
   */
  void replaceOverLimit(WorkerProcess w, String reason) {
    if (slots[w.slot()] != w || pool.isStopping()) {
      w.kill(reason);
      return;
    }
    limitBreaches++;
    LOG.warn("Replacing worker {}: {}", w.id(), reason);
    pool.supervisor().publish("worker.limit_exceeded", w.toJson().put("reason", reason));
    retiring.add(w);
    w.kill(reason);
    spawn(w.slot());
    pool.refreshMetrics();
  }

  /** Replaces a worker: a new process takes the slot at once, the old one drains and stops. */
  void recycle(WorkerProcess w, String reason) {
    if (slots[w.slot()] != w || pool.isStopping()) {
      return;
    }
    recycles++;
    pool.metrics().recycled();
    LOG.info("Recycling worker {}: {}", w.id(), reason);
    pool.supervisor().publish("worker.recycled", w.toJson().put("reason", reason));
    retiring.add(w);
    w.stop(config.drainTimeoutMs(), "recycled: " + reason);
    spawn(w.slot());
    pool.refreshMetrics();
  }

  /** The end of a worker's stderr, enough for a traceback's last lines. */
  private static String tail(String stderr) {
    String t = stderr.strip();
    return t.length() <= 2000 ? t : "..." + t.substring(t.length() - 2000);
  }

  private void heartbeat() {
    long now = System.nanoTime();
    for (WorkerProcess w : slots) {
      if (w != null) {
        String reason = w.heartbeat(now);
        if (reason != null) {
          recycle(w, reason);
        }
      }
    }
    for (WorkerProcess w : new ArrayList<>(retiring)) {
      w.heartbeat(now);
    }
    for (WorkerProcess w : new ArrayList<>(replacements.keySet())) {
      w.heartbeat(now);
    }
    measureUsage();
    pool.refreshMetrics();
  }

  /**
   * Reads every live worker's usage from the OS ({@link ProcessUsage}), off
   * the event loop: the next heartbeat's {@link WorkerProcess#heartbeat}
   * compares the RSS with max-rss-mb, and the CPU and refused processes are
   * checked against the pool's limits as they arrive. At most one read per
   * pool is under way, so a slow disk cannot pile them up.
   */
  private void measureUsage() {
    if (!ProcessMemory.SUPPORTED || measuringUsage) {
      return;
    }
    List<WorkerProcess> live = new ArrayList<>();
    for (WorkerProcess w : allWorkers()) {
      if (w.pid() > 0 && w.state().isActive()) {
        live.add(w);
      }
    }
    if (live.isEmpty()) {
      return;
    }
    long[] pids = live.stream().mapToLong(WorkerProcess::pid).toArray();
    String[] cgroups = live.stream().map(WorkerProcess::cgroup).toArray(String[]::new);
    measuringUsage = true;
    pool.supervisor().context().<ProcessUsage[]>executeBlocking(() -> {
      ProcessUsage[] usage = new ProcessUsage[pids.length];
      for (int i = 0; i < pids.length; i++) {
        usage[i] = ProcessUsage.read(pids[i], cgroups[i]);
      }
      return usage;
    }, false).onComplete(ar -> {
      measuringUsage = false;
      if (ar.succeeded()) {
        for (int i = 0; i < pids.length; i++) {
          live.get(i).usageFromOs(pids[i], ar.result()[i]);
        }
      }
    });
  }

  /** Stops every worker, draining in-flight calls up to drain-timeout-ms; completes when all have exited. */
  Future<Void> stop() {
    pool.vertx().cancelTimer(heartbeatTimer);
    List<Future<Void>> exits = new ArrayList<>();
    for (WorkerProcess w : allWorkers()) {
      w.stop(config.drainTimeoutMs(), "node stopping");
      exits.add(w.exited());
    }
    return Future.join(exits).mapEmpty();
  }
}
