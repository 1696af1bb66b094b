package io.snakepit.supervisor;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.ExecuteRequest;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonObject;

/**
 * One call on its way through a pool: queued, then in flight on a worker.
 * Lives on the supervisor's event loop only, so it needs no locking.
 */
final class PoolCall implements StreamHandle {

  private final ExecuteRequest request;
  private final long timeoutMs;
  /** Set for unary calls. */
  private final Promise<JsonObject> promise;
  /** Set for streaming calls. */
  private final StreamObserver observer;
  private final long enqueuedNanos = System.nanoTime();

  /** Set when submitted: its metrics record the call, its Vert.x runs the call's timers. */
  private WorkerPool pool;
  /** The worker holding the session's Python-side state, preferred by dispatch; null for none. */
  private String preferredWorker;
  /** Set when the call reaches a worker, with the request id it runs under there. */
  private WorkerProcess worker;
  private int requestId;
  private long queueTimer = -1;
  private long callTimer = -1;
  /** The caller has its answer; whatever the worker still sends is dropped. */
  private boolean finished;
  /** Credit the consumer granted before the call reached a worker. */
  private int pendingCredit;
  /** The trace context the call arrived in, when the node traces it; null otherwise (see CallTracing). */
  private io.opentelemetry.context.Context traceParent;
  /** The call's span on its worker, once it runs there, when traced. */
  private io.opentelemetry.api.trace.Span span;
  private boolean spanEnded;

  private PoolCall(ExecuteRequest request, long timeoutMs, Promise<JsonObject> promise, StreamObserver observer) {
    this.request = request;
    this.timeoutMs = timeoutMs;
    this.promise = promise;
    this.observer = observer;
  }

  static PoolCall unary(ExecuteRequest request, long timeoutMs) {
    return new PoolCall(request, timeoutMs, Promise.promise(), null);
  }

  static PoolCall stream(ExecuteRequest request, long timeoutMs, StreamObserver observer, int initialCredit) {
    PoolCall c = new PoolCall(request, timeoutMs, null, observer);
    c.pendingCredit = initialCredit;
    return c;
  }

  ExecuteRequest executeRequest() {
    return request;
  }

  /** How long the call may run on a worker before it is cancelled. */
  long timeoutMs() {
    return timeoutMs;
  }

  /** A unary call's answer. */
  Future<JsonObject> future() {
    return promise.future();
  }

  /** Sends the call to this worker when it can (see {@link ExecuteRequest.Affinity}); null for any. */
  void preferWorker(String workerId) {
    preferredWorker = workerId;
  }

  /** The call is traced, as a child of {@code parent} (null: it is not). */
  void tracedIn(io.opentelemetry.context.Context parent) {
    traceParent = parent;
  }

  /** The trace context the call arrived in, or null when it is not traced. */
  io.opentelemetry.context.Context traceParent() {
    return traceParent;
  }

  /** The call's span on its worker, started as the REQUEST is sent; ended with the call. */
  void span(io.opentelemetry.api.trace.Span s) {
    span = s;
  }

  /** The call's span on its worker, or null. */
  io.opentelemetry.api.trace.Span span() {
    return span;
  }

  /**
   * Ends the call's span, if it has one, with the call's outcome. The span stays known: a worker that
   * answers after the caller had its answer (a timeout, a cancel) still reports spans under it.
   */
  private void endSpan(String errorCode) {
    if (span != null && !spanEnded) {
      spanEnded = true;
      CallTracing.end(span, errorCode);
    }
  }

  /** The worker the call prefers, or null. */
  String preferredWorker() {
    return preferredWorker;
  }

  /** The pool took the call; from now on it answers for the call's metrics and timers. */
  void submittedTo(WorkerPool pool) {
    this.pool = pool;
  }

  ExecuteRequest.Affinity affinity() {
    return request.affinity() != null ? request.affinity() : pool.config().affinity();
  }

  boolean isStream() {
    return observer != null;
  }

  /** The timer that fails the call if it waits in the queue too long. */
  void queueTimer(long timerId) {
    queueTimer = timerId;
  }

  /** The call left the queue: its queue timeout no longer applies. */
  void cancelQueueTimer() {
    pool.vertx().cancelTimer(queueTimer);
  }

  /** The call is on {@code w} as request {@code id}. */
  void runsOn(WorkerProcess w, int id) {
    worker = w;
    requestId = id;
  }

  /** The request id the call runs under on its worker; 0 before it reaches one. */
  int requestId() {
    return requestId;
  }

  /** The timer that cancels the call when it runs past {@link #timeoutMs()}. */
  void callTimer(long timerId) {
    callTimer = timerId;
  }

  /** The call ended on its worker: its timeout no longer applies. */
  void cancelCallTimer() {
    pool.vertx().cancelTimer(callTimer);
  }

  /** The credit granted before the call reached a worker, which the REQUEST carries; none is left after. */
  int takePendingCredit() {
    int credit = pendingCredit;
    pendingCredit = 0;
    return credit;
  }

  /** Tells a stream's observer which worker runs it. */
  void streamStarted(String workerId) {
    observer.onStart(workerId);
  }

  /** Ends the call with a result (unary). */
  void succeed(JsonObject reply) {
    if (finished) {
      return;
    }
    finished = true;
    record(PoolMetrics.OK);
    endSpan(null);
    promise.tryComplete(reply);
  }

  /** Records the call's latency and outcome in its pool's metrics. */
  private void record(String outcome) {
    if (pool != null) {
      pool.metrics().callDone(request.tool(), outcome, System.nanoTime() - enqueuedNanos);
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
    endSpan(null);
    observer.onEnd();
  }

  /** Ends the call with an error, stamped with the request's correlation id. */
  void fail(SnakepitException e) {
    if (finished) {
      return;
    }
    finished = true;
    record(e.errorCode().code());
    endSpan(e.errorCode().code());
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
    if (worker == null) {
      pool.dequeue(this);
      fail(ErrorCode.CANCELLED, "The call was cancelled by its caller before it reached a worker.");
    } else {
      worker.cancel(this);
      fail(ErrorCode.CANCELLED, "The call was cancelled by its caller.");
    }
  }
}
