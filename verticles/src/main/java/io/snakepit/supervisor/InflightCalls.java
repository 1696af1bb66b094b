package io.snakepit.supervisor;

import io.snakepit.contract.CorrelatedLog;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.ExecuteRequest;
import io.snakepit.contract.Headers;
import io.snakepit.contract.SnakepitException;
import io.snakepit.protocol.Frame;
import io.snakepit.protocol.FrameType;
import io.vertx.core.json.JsonObject;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The calls in flight on one worker, by the request id each runs under
 * there: sends them, times them out, cancels them (a worker that ignores a
 * CANCEL for cancel-grace-ms is killed), passes stream credit on, and counts
 * the ones answered. On the supervisor's event loop only.
 */
final class InflightCalls {

  private final WorkerProcess worker;
  private final Map<Integer, PoolCall> byRequestId = new HashMap<>();
  /** The worker's CPU time when each call was first seen running, by request id (max-cpu-s-per-call). */
  private final Map<Integer, Long> cpuAtStart = new HashMap<>();
  private int nextRequestId = 1;
  private long answered;

  InflightCalls(WorkerProcess worker) {
    this.worker = worker;
  }

  int count() {
    return byRequestId.size();
  }

  /** Calls answered (result, error or end of stream); timed-out, cancelled and crashed ones do not count. */
  long answered() {
    return answered;
  }

  /** Sends the call as a REQUEST under a fresh request id and starts its timeout. */
  void start(PoolCall call) {
    int rid = nextRequestId;
    nextRequestId = nextRequestId == Integer.MAX_VALUE ? 1 : nextRequestId + 1;
    call.runsOn(worker, rid);
    byRequestId.put(rid, call);
    ExecuteRequest r = call.executeRequest();
    JsonObject body = new JsonObject().put("tool", r.tool()).put("args", r.args())
        .put("correlation_id", r.correlationId()).put("stream", call.isStream());
    if (r.sessionId() != null) {
      body.put("session_id", r.sessionId());
    }
    if (call.isStream()) {
      body.put("credit", call.takePendingCredit());
    }
    body.put("timeout_ms", call.timeoutMs());
    if (call.traceParent() != null) {
      CallTracing tracing = worker.pool().supervisor().tracing();
      if (tracing != null) {
        // The worker's spans are children of this one; without a traceparent it records none.
        call.span(tracing.startWorkerSpan(call, worker, call.traceParent()));
        body.put(Headers.TRACEPARENT, CallTracing.traceparent(call.span()));
      }
    }
    worker.send(new Frame(FrameType.REQUEST, rid, body, null));
    call.callTimer(worker.pool().vertx().setTimer(call.timeoutMs(), t -> onTimeout(call)));
    if (call.isStream()) {
      call.streamStarted(worker.id());
    }
  }

  /** The call running as request {@code requestId}, or null. */
  PoolCall get(int requestId) {
    return byRequestId.get(requestId);
  }

  /** The call's answer arrived: it is no longer in flight, and counts as answered. Null for an unknown id. */
  PoolCall finish(int requestId) {
    PoolCall call = byRequestId.remove(requestId);
    cpuAtStart.remove(requestId);
    if (call == null) {
      return null;
    }
    call.cancelCallTimer();
    answered++;
    return call;
  }

  /**
   * The worker has used {@code cpuMillis} of CPU so far: returns a call that
   * has run past {@code limitMillis} of it, or null. A call's count starts at
   * the first reading after it started, so it may use up to one heartbeat
   * more; with concurrency above 1 it counts the other calls' CPU too.
   */
  PoolCall pastCpu(long cpuMillis, long limitMillis) {
    cpuAtStart.keySet().retainAll(byRequestId.keySet());
    for (Map.Entry<Integer, PoolCall> e : byRequestId.entrySet()) {
      Long start = cpuAtStart.putIfAbsent(e.getKey(), cpuMillis);
      if (start != null && cpuMillis - start > limitMillis) {
        return e.getValue();
      }
    }
    return null;
  }

  /** A call in flight here that runs in this session, or null. */
  PoolCall inSession(String sessionId) {
    for (PoolCall c : byRequestId.values()) {
      if (sessionId.equals(c.executeRequest().sessionId())) {
        return c;
      }
    }
    return null;
  }

  /** Whether {@code call} is still in flight here (not answered, timed out or lost with a crash). */
  private boolean runs(PoolCall call) {
    return byRequestId.get(call.requestId()) == call;
  }

  private void onTimeout(PoolCall call) {
    if (!runs(call)) {
      return;
    }
    call.fail(new SnakepitException(ErrorCode.TIMEOUT, "Tool '" + call.executeRequest().tool()
        + "' ran past its timeout of " + call.timeoutMs() + " ms and was cancelled.",
        null, new JsonObject().put("worker", worker.id())));
    cancel(call);
  }

  /** Sends CANCEL; a worker that does not answer within cancel-grace-ms is killed. */
  void cancel(PoolCall call) {
    if (!runs(call) || worker.state() == WorkerState.DEAD) {
      return;
    }
    call.cancelCallTimer();
    worker.send(Frame.of(FrameType.CANCEL, call.requestId(), new JsonObject()));
    long grace = worker.pool().config().cancelGraceMs();
    worker.pool().vertx().setTimer(grace, t -> {
      if (runs(call)) {
        // The kill is about this call: its log line carries the call's correlation id.
        CorrelatedLog.with(call.executeRequest().correlationId(), () -> worker.kill("did not stop tool '"
            + call.executeRequest().tool() + "' within cancel-grace-ms=" + grace + " after a cancel"));
      }
    });
  }

  /** Lets the worker send {@code n} more items of a stream. */
  void grantCredit(PoolCall call, int n) {
    if (runs(call)) {
      worker.send(Frame.of(FrameType.CREDIT, call.requestId(), new JsonObject().put("n", n)));
    }
  }

  /** The worker died: every call in flight fails with a fresh error from {@code error}. */
  void failAll(Supplier<SnakepitException> error) {
    for (PoolCall call : byRequestId.values()) {
      call.cancelCallTimer();
      call.fail(error.get());
    }
    byRequestId.clear();
    cpuAtStart.clear();
  }
}
