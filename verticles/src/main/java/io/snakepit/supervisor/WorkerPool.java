package io.snakepit.supervisor;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A named pool of Python workers: a fixed number of slots, each holding one
 * process at a time, and a bounded queue of calls waiting for a free worker.
 * Restarts crashed workers with backoff, recycles old or bloated ones, and
 * reports itself degraded when workers keep dying. Runs on the supervisor's
 * event loop only.
 */
public final class WorkerPool {

  private static final Logger LOG = LoggerFactory.getLogger(WorkerPool.class);

  final PoolConfig config;
  final Vertx vertx;
  final ProcessSupervisor supervisor;
  private final WorkerProcess[] slots;
  private final int[] generations;
  private final long[] backoffMs;
  private final Set<WorkerProcess> retiring = new LinkedHashSet<>();
  private final Deque<Call> queue = new ArrayDeque<>();
  private final Deque<Long> recentFailures = new ArrayDeque<>();
  private final Promise<Void> firstReady = Promise.promise();
  private boolean degraded;
  private boolean stopping;
  private int cursor;
  private long heartbeatTimer = -1;
  private boolean measuringRss;
  private long restarts;
  private long recycles;
  private long crashes;
  private int everReady;
  final PoolMetrics metrics;

  WorkerPool(PoolConfig config, Vertx vertx, ProcessSupervisor supervisor) {
    this.config = config;
    this.vertx = vertx;
    this.supervisor = supervisor;
    this.slots = new WorkerProcess[config.size()];
    this.generations = new int[config.size()];
    this.backoffMs = new long[config.size()];
    this.metrics = new PoolMetrics(supervisor.meterRegistry(), config.name());
  }

  public String name() {
    return config.name();
  }

  public boolean isDegraded() {
    return degraded;
  }

  /** Starts every worker at once; completes when all are ready, or when the pool gives up and degrades. */
  Future<Void> start() {
    for (int i = 0; i < slots.length; i++) {
      spawn(i);
    }
    heartbeatTimer = vertx.setPeriodic(config.heartbeatMs(), t -> heartbeat());
    refreshMetrics();
    return firstReady.future();
  }

  private void spawn(int slot) {
    if (stopping) {
      return;
    }
    String id = config.name() + "-" + slot + "." + generations[slot]++;
    WorkerProcess w = new WorkerProcess(id, slot, this);
    slots[slot] = w;
    supervisor.launch(w);
  }

  // ---- dispatch --------------------------------------------------------------------------------

  void submit(Call call) {
    call.pool = this;
    if (stopping) {
      call.fail(ErrorCode.SHUTTING_DOWN, "Pool '" + config.name() + "' is stopping; send the call to another node.");
      return;
    }
    WorkerProcess w = pickWorker(call);
    if (w != null) {
      w.dispatch(call);
      return;
    }
    if (call.preferredWorker != null && call.affinity() == ExecuteRequest.Affinity.STRICT_FAIL_FAST
        && findReady(call.preferredWorker) != null) {
      call.fail(new SnakepitException(ErrorCode.WORKER_BUSY, "Worker " + call.preferredWorker
          + ", which holds the session's state, is busy (affinity strict-fail-fast).", null,
          new JsonObject().put("worker", call.preferredWorker)));
      return;
    }
    if (degraded && readyCount() == 0) {
      call.fail(new SnakepitException(ErrorCode.POOL_DEGRADED, "Pool '" + config.name()
          + "' is degraded: its workers keep failing to start. " + ErrorCode.POOL_DEGRADED.hint(), null,
          new JsonObject().put("pool", config.name())));
      return;
    }
    if (queue.size() >= config.queueSize()) {
      call.fail(new SnakepitException(ErrorCode.OVERLOADED, "Pool '" + config.name() + "' has " + queue.size()
          + " calls queued (queue-size=" + config.queueSize() + ").", null,
          new JsonObject().put("pool", config.name()).put("queue_size", config.queueSize())));
      return;
    }
    queue.addLast(call);
    metrics.queueDepth(queue.size());
    call.queueTimer = vertx.setTimer(config.queueTimeoutMs(), t -> {
      if (queue.remove(call)) {
        metrics.queueDepth(queue.size());
        call.fail(new SnakepitException(ErrorCode.QUEUE_TIMEOUT, "No worker of pool '" + config.name()
            + "' became free within queue-timeout-ms=" + config.queueTimeoutMs() + ".", null,
            new JsonObject().put("pool", config.name())));
      }
    });
  }

  void dequeue(Call call) {
    if (queue.remove(call)) {
      vertx.cancelTimer(call.queueTimer);
      metrics.queueDepth(queue.size());
    }
  }

  private WorkerProcess findReady(String workerId) {
    for (WorkerProcess w : slots) {
      if (w != null && w.isReady() && w.id.equals(workerId)) {
        return w;
      }
    }
    return null;
  }

  /**
   * The worker a call should go to now, or null when it must wait. A session's
   * worker is taken when it has room; when it is busy, {@code hint} falls back
   * to any worker while the strict modes wait (or fail, in {@link #submit}).
   * A session whose worker is gone goes anywhere: that state is lost.
   */
  private WorkerProcess pickWorker(Call call) {
    if (call.preferredWorker != null) {
      WorkerProcess w = findReady(call.preferredWorker);
      if (w != null) {
        if (w.hasCapacity()) {
          return w;
        }
        if (call.affinity() != ExecuteRequest.Affinity.HINT) {
          return null;
        }
      }
    }
    return leastLoaded();
  }

  private WorkerProcess leastLoaded() {
    WorkerProcess best = null;
    int n = slots.length;
    for (int i = 0; i < n; i++) {
      WorkerProcess w = slots[(cursor + i) % n];
      if (w != null && w.hasCapacity() && (best == null || w.inflight.size() < best.inflight.size())) {
        best = w;
        if (w.inflight.isEmpty()) {
          break;
        }
      }
    }
    if (best != null) {
      cursor = (best.slot + 1) % n;
    }
    return best;
  }

  private void drainQueue() {
    // In order, but a call waiting for its session's busy worker lets later calls pass.
    for (Iterator<Call> it = queue.iterator(); it.hasNext(); ) {
      if (leastLoaded() == null) {
        return;
      }
      Call call = it.next();
      WorkerProcess w = pickWorker(call);
      if (w != null) {
        it.remove();
        metrics.queueDepth(queue.size());
        vertx.cancelTimer(call.queueTimer);
        w.dispatch(call);
      }
    }
  }

  /** A worker finished a call: reuse its slot, or retire it if it has served enough. */
  void onCallDone(WorkerProcess w) {
    if (w.state == WorkerProcess.State.DRAINING) {
      w.maybeFinishDrain();
    } else if (config.maxRequests() > 0 && w.requestsServed >= config.maxRequests() && w.isReady()) {
      recycle(w, "served " + w.requestsServed + " requests (max-requests=" + config.maxRequests() + ")");
    }
    drainQueue();
  }

  // ---- worker lifecycle ------------------------------------------------------------------------

  void onWorkerReady(WorkerProcess w) {
    backoffMs[w.slot] = 0;
    everReady++;
    metrics.tools(w.tools);
    supervisor.publish("worker.started", w.toJson());
    LOG.info("Worker {} ready (pid {}) in {} ms", w.id, w.pid, w.readyAtMillis - w.startedAtMillis);
    if (degraded) {
      degraded = false;
      LOG.info("Pool {} recovered", config.name());
      supervisor.publish("pool.recovered", new JsonObject().put("pool", config.name()));
    }
    if (readyCount() == slots.length) {
      firstReady.tryComplete();
    }
    drainQueue();
    refreshMetrics();
  }

  void onWorkerExit(WorkerProcess w, WorkerProcess.State was, int exitCode, String stderr) {
    if (retiring.remove(w)) {
      LOG.info("Retired worker {} exited ({})", w.id, exitCode);
      refreshMetrics();
      return;
    }
    if (slots[w.slot] != w || stopping) {
      refreshMetrics();
      return;
    }
    crashes++;
    metrics.crashed();
    boolean neverReady = was == WorkerProcess.State.STARTING;
    String why = w.killReason != null ? w.killReason : "exit code " + exitCode;
    long now = System.currentTimeMillis();
    recentFailures.addLast(now);
    while (!recentFailures.isEmpty() && now - recentFailures.peekFirst() > config.restartWindowMs()) {
      recentFailures.removeFirst();
    }
    boolean degrades = !degraded && recentFailures.size() > config.restartMax();
    // Degraded pools keep probing, but only at the slowest pace, so they heal without looping hot.
    long delay = degraded || degrades ? config.backoffMaxMs()
        : Math.min(config.backoffMaxMs(), backoffMs[w.slot] == 0 ? config.backoffMinMs() : backoffMs[w.slot] * 2);
    LOG.warn("Worker {} {} ({}); restarting", w.id, neverReady ? "failed to start" : "died", why);
    supervisor.publish("worker.crashed", w.toJson().put("exit_code", exitCode).put("reason", why)
        .put("stderr", stderr).put("restart_in_ms", delay));
    if (degrades) {
      degraded = true;
      LOG.error("Pool {} degraded: {} worker failures within {} ms (restart-max={}). Last stderr:\n{}",
          config.name(), recentFailures.size(), config.restartWindowMs(), config.restartMax(), stderr);
      supervisor.publish("pool.degraded", new JsonObject().put("pool", config.name())
          .put("failures", recentFailures.size()).put("stderr", stderr));
      firstReady.tryComplete();
      failQueueIfNoWorkers();
    }
    backoffMs[w.slot] = delay;
    slots[w.slot] = null;
    refreshMetrics();
    vertx.setTimer(delay, t -> {
      if (!stopping && slots[w.slot] == null) {
        restarts++;
        metrics.restarted();
        spawn(w.slot);
        refreshMetrics();
      }
    });
  }

  private void failQueueIfNoWorkers() {
    if (readyCount() > 0) {
      return;
    }
    Call c;
    while ((c = queue.pollFirst()) != null) {
      metrics.queueDepth(queue.size());
      vertx.cancelTimer(c.queueTimer);
      c.fail(new SnakepitException(ErrorCode.POOL_DEGRADED, "Pool '" + config.name()
          + "' is degraded: its workers keep failing to start. " + ErrorCode.POOL_DEGRADED.hint(), null,
          new JsonObject().put("pool", config.name())));
    }
  }

  /** Replaces a worker: a new process takes the slot at once, the old one drains and stops. */
  void recycle(WorkerProcess w, String reason) {
    if (slots[w.slot] != w || stopping) {
      return;
    }
    recycles++;
    metrics.recycled();
    LOG.info("Recycling worker {}: {}", w.id, reason);
    supervisor.publish("worker.recycled", w.toJson().put("reason", reason));
    retiring.add(w);
    w.stop(config.drainTimeoutMs(), "recycled: " + reason);
    spawn(w.slot);
    refreshMetrics();
  }

  private void heartbeat() {
    long now = System.nanoTime();
    for (WorkerProcess w : slots) {
      if (w != null) {
        String reason = w.tick(now);
        if (reason != null) {
          recycle(w, reason);
        }
      }
    }
    for (WorkerProcess w : new ArrayList<>(retiring)) {
      w.tick(now);
    }
    measureRss();
    refreshMetrics();
  }

  /**
   * Reads every live worker's RSS from the OS, off the event loop; the next
   * heartbeat's {@link WorkerProcess#tick} compares it with max-rss-mb. At most
   * one read per pool is under way, so a slow disk cannot pile them up.
   */
  private void measureRss() {
    if (!ProcessMemory.SUPPORTED || measuringRss) {
      return;
    }
    List<WorkerProcess> live = new ArrayList<>();
    for (WorkerProcess w : allWorkers()) {
      if (w.pid > 0 && (w.isReady() || w.state == WorkerProcess.State.DRAINING)) {
        live.add(w);
      }
    }
    if (live.isEmpty()) {
      return;
    }
    long[] pids = live.stream().mapToLong(w -> w.pid).toArray();
    measuringRss = true;
    supervisor.context().<long[]>executeBlocking(() -> {
      long[] rss = new long[pids.length];
      for (int i = 0; i < pids.length; i++) {
        rss[i] = ProcessMemory.rssBytes(pids[i]);
      }
      return rss;
    }, false).onComplete(ar -> {
      measuringRss = false;
      if (ar.succeeded()) {
        for (int i = 0; i < pids.length; i++) {
          live.get(i).rssFromOs(pids[i], ar.result()[i]);
        }
      }
    });
  }

  /** Snapshots workers by state, queue depth and degradation for the gauges. */
  private void refreshMetrics() {
    metrics.refresh(allWorkers(), queue.size(), degraded);
  }

  /** Drains in-flight calls up to drain-timeout-ms, then stops every worker; completes when all have exited. */
  Future<Void> stop() {
    stopping = true;
    vertx.cancelTimer(heartbeatTimer);
    Call c;
    while ((c = queue.pollFirst()) != null) {
      vertx.cancelTimer(c.queueTimer);
      c.fail(ErrorCode.SHUTTING_DOWN, "The node is stopping; the call had not reached a worker.");
    }
    metrics.queueDepth(0);
    List<Future<Void>> exits = new ArrayList<>();
    for (WorkerProcess w : allWorkers()) {
      w.stop(config.drainTimeoutMs(), "node stopping");
      exits.add(w.exited.future());
    }
    return Future.join(exits).mapEmpty();
  }

  /** Sends SESSION_CLOSED to every live worker. */
  void sessionClosed(String sessionId) {
    for (WorkerProcess w : allWorkers()) {
      w.sessionClosed(sessionId);
    }
  }

  List<WorkerProcess> allWorkers() {
    List<WorkerProcess> all = new ArrayList<>();
    for (WorkerProcess w : slots) {
      if (w != null) {
        all.add(w);
      }
    }
    all.addAll(retiring);
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

  /** The tools the adapter offers, as the first ready worker reported them. */
  JsonArray tools() {
    for (WorkerProcess w : slots) {
      if (w != null && w.isReady()) {
        return w.tools;
      }
    }
    return new JsonArray();
  }

  int queueDepth() {
    return queue.size();
  }

  JsonObject toJson() {
    JsonArray workers = new JsonArray();
    for (Iterator<WorkerProcess> it = allWorkers().iterator(); it.hasNext(); ) {
      workers.add(it.next().id);
    }
    int inflight = 0;
    for (WorkerProcess w : slots) {
      if (w != null) {
        inflight += w.inflight.size();
      }
    }
    return new JsonObject().put("name", config.name()).put("size", config.size()).put("ready", readyCount())
        .put("inflight", inflight)
        .put("degraded", degraded).put("queue_depth", queue.size()).put("adapter", config.adapter())
        .put("concurrency", config.concurrency()).put("restarts", restarts).put("recycles", recycles)
        .put("crashes", crashes).put("workers", workers);
  }
}
