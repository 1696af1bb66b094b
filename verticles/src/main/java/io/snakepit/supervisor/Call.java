package io.snakepit.supervisor;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonObject;

/**
 * One call on its way through a pool: queued, then in flight on a worker.
 * Lives on the supervisor's event loop only, so it needs no locking.
 */
final class Call implements StreamHandle {

  final ExecuteRequest request;
  final long timeoutMs;
  /** Set for unary calls. */
  final Promise<JsonObject> promise;
  /** Set for streaming calls. */
  final StreamObserver observer;
  final long enqueuedNanos = System.nanoTime();

  WorkerProcess worker;
  /** The worker holding the session's Python-side state, preferred by dispatch; null for none. */
  String preferredWorker;
  int requestId;
  long queueTimer = -1;
  long callTimer = -1;
  /** The caller has its answer; whatever the worker still sends is dropped. */
  boolean finished;
  /** Credit the consumer granted before the call reached a worker. */
  int pendingCredit;
  boolean cancelRequested;
  WorkerPool pool;

  private Call(ExecuteRequest request, long timeoutMs, Promise<JsonObject> promise, StreamObserver observer) {
    this.request = request;
    this.timeoutMs = timeoutMs;
    this.promise = promise;
    this.observer = observer;
  }

  static Call unary(ExecuteRequest request, long timeoutMs) {
    return new Call(request, timeoutMs, Promise.promise(), null);
  }

  static Call stream(ExecuteRequest request, long timeoutMs, StreamObserver observer, int initialCredit) {
    Call c = new Call(request, timeoutMs, null, observer);
    c.pendingCredit = initialCredit;
    return c;
  }

  ExecuteRequest.Affinity affinity() {
    return request.affinity() != null ? request.affinity() : pool.config.affinity();
  }

  boolean isStream() {
    return observer != null;
  }

  /** Ends the call with a result (unary). */
  void succeed(JsonObject reply) {
    if (finished) {
      return;
    }
    finished = true;
    record(PoolMetrics.OK);
    promise.tryComplete(reply);
  }

  /** Records the call's latency and outcome in its pool's metrics. */
  private void record(String outcome) {
    if (pool != null) {
      pool.metrics.callDone(request.tool(), outcome, System.nanoTime() - enqueuedNanos);
    }
  }

  void item(Object item) {
    if (!finished) {
      observer.onItem(item);
    }
  }

  void end() {
    if (finished) {
      return;
    }
    finished = true;
    record(PoolMetrics.OK);
    observer.onEnd();
  }

  /** Ends the call with an error, stamped with the request's correlation id. */
  void fail(SnakepitException e) {
    if (finished) {
      return;
    }
    finished = true;
    record(e.errorCode().code());
    SnakepitException stamped = e.withCorrelationId(request.correlationId());
    if (promise != null) {
      promise.tryFail(stamped);
    } else {
      observer.onError(stamped);
    }
  }

  void fail(ErrorCode code, String message) {
    fail(new SnakepitException(code, message));
  }

  @Override
  public void request(int n) {
    if (n <= 0 || finished) {
      return;
    }
    if (worker == null) {
      pendingCredit += n;
    } else {
      worker.grantCredit(this, n);
    }
  }

  @Override
  public void cancel() {
    if (finished) {
      return;
    }
    cancelRequested = true;
    if (worker == null) {
      pool.dequeue(this);
      fail(ErrorCode.CANCELLED, "The call was cancelled by its caller before it reached a worker.");
    } else {
      worker.cancel(this);
      fail(ErrorCode.CANCELLED, "The call was cancelled by its caller.");
    }
  }
}
