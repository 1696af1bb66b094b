package io.snakepit.supervisor;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.ExecuteRequest;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.json.JsonObject;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;
import java.util.function.Supplier;

/**
 * Where one {@link WorkerPool}'s calls go: to the worker holding their
 * session's state as their affinity says ({@code hint}, {@code strict-queue},
 * {@code strict-fail-fast}), else to the least-loaded ready worker, else into
 * a bounded queue that times out. Runs on the supervisor's event loop only.
 */
final class CallDispatcher {

  private final WorkerPool pool;
  private final PoolConfig config;
  private final SlotSupervisor slots;
  private final Deque<PoolCall> queue = new ArrayDeque<>();
  /** Where the next search for the least-loaded worker starts, so equal workers take turns. */
  private int cursor;

  CallDispatcher(WorkerPool pool, SlotSupervisor slots) {
    this.pool = pool;
    this.config = pool.config();
    this.slots = slots;
  }

  void submit(PoolCall call) {
    call.submittedTo(pool);
    if (pool.isStopping()) {
      call.fail(ErrorCode.SHUTTING_DOWN, "Pool '" + config.name() + "' is stopping; send the call to another node.");
      return;
    }
    WorkerProcess w = pickWorker(call);
    if (w != null) {
      w.dispatch(call);
      return;
    }
    String preferred = call.preferredWorker();
    if (preferred != null && call.affinity() == ExecuteRequest.Affinity.STRICT_FAIL_FAST
        && slots.readyWorker(preferred) != null) {
      call.fail(new SnakepitException(ErrorCode.WORKER_BUSY, "Worker " + preferred
          + ", which holds the session's state, is busy (affinity strict-fail-fast).", null,
          new JsonObject().put("worker", preferred)));
      return;
    }
    if (slots.isDegraded() && slots.readyCount() == 0) {
      call.fail(poolDegraded());
      return;
    }
    if (queue.size() >= config.queueSize()) {
      call.fail(new SnakepitException(ErrorCode.OVERLOADED, "Pool '" + config.name() + "' has " + queue.size()
          + " calls queued (queue-size=" + config.queueSize() + ").", null,
          new JsonObject().put("pool", config.name()).put("queue_size", config.queueSize())));
      return;
    }
    queue.addLast(call);
    pool.metrics().queueDepth(queue.size());
    call.queueTimer(pool.vertx().setTimer(config.queueTimeoutMs(), t -> {
      if (queue.remove(call)) {
        pool.metrics().queueDepth(queue.size());
        call.fail(new SnakepitException(ErrorCode.QUEUE_TIMEOUT, "No worker of pool '" + config.name()
            + "' became free within queue-timeout-ms=" + config.queueTimeoutMs() + ".", null,
            new JsonObject().put("pool", config.name())));
      }
    }));
  }

  /** The error of a call that cannot run because the pool's workers keep failing. */
  private SnakepitException poolDegraded() {
    return new SnakepitException(ErrorCode.POOL_DEGRADED, "Pool '" + config.name()
        + "' is degraded: its workers keep failing to start. " + ErrorCode.POOL_DEGRADED.hint(), null,
        new JsonObject().put("pool", config.name()));
  }

  /** Takes a queued call out of the queue (its caller cancelled it). */
  void dequeue(PoolCall call) {
    if (queue.remove(call)) {
      call.cancelQueueTimer();
      pool.metrics().queueDepth(queue.size());
    }
  }

  int queueDepth() {
    return queue.size();
  }

  /**
   * The worker a call should go to now, or null when it must wait. A session's
   * worker is taken when it has room; when it is busy, {@code hint} falls back
   * to any worker while the strict modes wait (or fail, in {@link #submit}).
   * A session whose worker is gone goes anywhere: that state is lost.
   */
  private WorkerProcess pickWorker(PoolCall call) {
    if (call.preferredWorker() != null) {
      WorkerProcess w = slots.readyWorker(call.preferredWorker());
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
    int n = slots.size();
    for (int i = 0; i < n; i++) {
      WorkerProcess w = slots.inSlot((cursor + i) % n);
      if (w != null && w.hasCapacity() && (best == null || w.inflightCount() < best.inflightCount())) {
        best = w;
        if (w.inflightCount() == 0) {
          break;
        }
      }
    }
    if (best != null) {
      cursor = (best.slot() + 1) % n;
    }
    return best;
  }

  /** A worker has room now: queued calls that can run go to workers. */
  void drainQueue() {
    // In order, but a call waiting for its session's busy worker lets later calls pass.
    for (Iterator<PoolCall> it = queue.iterator(); it.hasNext(); ) {
      if (leastLoaded() == null) {
        return;
      }
      PoolCall call = it.next();
      WorkerProcess w = pickWorker(call);
      if (w != null) {
        it.remove();
        pool.metrics().queueDepth(queue.size());
        call.cancelQueueTimer();
        w.dispatch(call);
      }
    }
  }

  /** The pool degraded: with no worker ready, the queued calls would only wait for their timeout, so fail them now. */
  void failQueuedIfNoWorkerReady() {
    if (slots.readyCount() == 0) {
      failQueued(this::poolDegraded);
    }
  }

  /** Fails every queued call with a fresh error from {@code error}. */
  void failQueued(Supplier<SnakepitException> error) {
    PoolCall c;
    while ((c = queue.pollFirst()) != null) {
      pool.metrics().queueDepth(queue.size());
      c.cancelQueueTimer();
      c.fail(error.get());
    }
  }
}
