package io.snakepit.supervisor;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One rolling code reload of a {@link WorkerPool}: its workers are replaced
 * by ones running the code now on disk, a batch at a time, with no call
 * failed and no capacity lost. docs/operations.md ("Reloading code") tells
 * it for operators. Runs on the supervisor's event loop only.
 *
 * <ol>
 *   <li>A new forkserver starts with the new code, beside the old one. If the adapter (or the runtime) does
 *       not import there, the reload stops before any worker is touched: {@code reload_failed} with the
 *       {@code ImportError}.
 *   <li>Then, {@link #batch} slots at a time: a new worker starts for each slot on the new forkserver, beside
 *       the slot's worker, which keeps serving. Once every new worker of the batch is ready, the old worker's
 *       sessions' Python-side state is exported into the session store ({@link SessionHandoff#handOffWorker}:
 *       the next call of each session imports it on its new worker), the new worker takes the slot, and the
 *       old one retires as a recycled worker does (its calls in flight finish, then it stops). A new worker
 *       that fails to start (spawn mode: that is where an {@code ImportError} shows) stops the reload; the
 *       slots not yet replaced keep their old workers.
 *   <li>At the first swap the pool starts launching on the new forkserver; the old one stops once its last
 *       worker has exited.
 * </ol>
 */
final class PoolReload {

  // The pool's logger: operators filter on that name.
  private static final Logger LOG = LoggerFactory.getLogger(WorkerPool.class);

  private final WorkerPool pool;
  private final SlotSupervisor slots;
  private final SessionHandoff handoff;
  private final int generation;
  private final int total;
  private final int batch;
  private final long startedAt = System.currentTimeMillis();
  private final long startNanos = System.nanoTime();
  private final Promise<JsonObject> outcome = Promise.promise();
  private String state = "starting";
  private int replaced;
  private int next;
  private String error;
  private Long durationMs;
  private Forkserver fresh;
  private boolean adopted;

  /**
   * @param handoff    where retiring workers' session state goes; null when the node has none
   * @param generation this reload's number in the pool's life (1 for the first), naming its forkserver
   */
  PoolReload(WorkerPool pool, SlotSupervisor slots, SessionHandoff handoff, int generation) {
    this.pool = pool;
    this.slots = slots;
    this.handoff = handoff;
    this.generation = generation;
    this.total = slots.size();
    this.batch = batchOf(total);
  }

  /** Slots replaced at a time: a quarter of the pool, at least one. */
  static int batchOf(int size) {
    return Math.max(1, size / 4);
  }

  boolean isRunning() {
    return !outcome.future().isComplete();
  }

  /** Runs the reload; completes with {@link #toJson()} once every slot is replaced, or fails with {@code reload_failed}. */
  Future<JsonObject> run() {
    LOG.info("Reloading pool {}: {} workers, {} at a time", pool.name(), total, batch);
    publish("pool.reload.started");
    fresh = pool.supervisor().forkserverFor(pool, generation);
    fresh.useInterpreterOf(pool.forkserver());
    pool.addCandidate(fresh);
    fresh.start().onComplete(ar -> {
      if (ar.failed()) {
        fail("the new forkserver did not start: " + ar.cause().getMessage());
        return;
      }
      String importFailure = fresh.importFailure();
      if (importFailure != null) {
        fail(importFailure);
        return;
      }
      state = "replacing";
      nextBatch();
    });
    return outcome.future();
  }

  private void nextBatch() {
    if (pool.isStopping()) {
      fail("the pool is stopping");
      return;
    }
    if (next >= total) {
      finish();
      return;
    }
    int end = Math.min(total, next + batch);
    List<Future<WorkerProcess>> started = new ArrayList<>();
    for (int slot = next; slot < end; slot++) {
      started.add(slots.startReplacement(slot, fresh));
    }
    next = end;
    Future.join(started).onComplete(ar -> {
      if (ar.failed()) {
        started.stream().filter(Future::succeeded).forEach(f -> slots.dropReplacement(f.result()));
        fail(ar.cause().getMessage());
        return;
      }
      List<Future<Boolean>> swaps = new ArrayList<>();
      started.forEach(f -> swaps.add(swap(f.result())));
      Future.join(swaps).onComplete(done -> {
        if (swaps.stream().anyMatch(f -> !Boolean.TRUE.equals(f.result()))) {
          fail("a new worker ended before it took its slot");
          return;
        }
        publish("pool.reload.progress");
        nextBatch();
      });
    });
  }

  /** Hands the slot's sessions over, then the new worker takes the slot; completes with whether it did. */
  private Future<Boolean> swap(WorkerProcess w) {
    WorkerProcess old = slots.inSlot(w.slot());
    Future<Void> exported = handoff != null && old != null && old.isReady() && !old.sessions().isEmpty()
        ? handoff.handOffWorker(pool.name(), old.id(), List.copyOf(old.sessions()))
        : Future.succeededFuture();
    return exported.transform(ar -> {
      if (!adopted && !pool.isStopping()) {
        // From now on crashed workers restart with the new code too.
        adopted = true;
        pool.adoptForkserver(fresh);
      }
      boolean took = slots.takeSlot(w, "reloaded");
      if (took) {
        replaced++;
        pool.onSlotTaken();
      }
      return Future.succeededFuture(took);
    });
  }

  private void finish() {
    state = "done";
    durationMs = (System.nanoTime() - startNanos) / 1_000_000;
    LOG.info("Pool {} reloaded: {} workers in {} ms", pool.name(), replaced, durationMs);
    publish("pool.reload.finished");
    outcome.complete(toJson());
  }

  private void fail(String why) {
    state = "failed";
    error = why;
    durationMs = (System.nanoTime() - startNanos) / 1_000_000;
    if (!adopted) {
      pool.dropCandidate(fresh);
    }
    LOG.error("Reload of pool {} stopped after {} of {} workers; {} serve: {}", pool.name(), replaced, total,
        replaced == 0 ? "the old workers" : "the workers not replaced", why);
    publish("pool.reload.failed");
    outcome.fail(new SnakepitException(ErrorCode.RELOAD_FAILED, "Pool '" + pool.name() + "' was not reloaded"
        + (replaced == 0 ? "; its old workers keep serving" : " beyond " + replaced + " of " + total + " workers")
        + ": " + why, null, new JsonObject().put("pool", pool.name()).put("error", why).put("replaced", replaced)
        .put("total", total)));
  }

  private void publish(String type) {
    pool.supervisor().publish(type, toJson().put("pool", pool.name()));
  }

  /** The reload as {@code GET /v1/pools} shows it, under {@code reload}. */
  JsonObject toJson() {
    return new JsonObject().put("state", state).put("started", startedAt).put("duration_ms", durationMs)
        .put("replaced", replaced).put("total", total).put("batch", batch).put("error", error);
  }
}
