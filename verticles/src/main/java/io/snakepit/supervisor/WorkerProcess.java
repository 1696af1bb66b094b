package io.snakepit.supervisor;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.snakepit.protocol.Frame;
import io.snakepit.protocol.FrameCodec;
import io.snakepit.protocol.FrameType;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetSocket;
import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * One Python worker process and its connection. Every method runs on the
 * supervisor's event loop; process spawn and exit arrive through
 * {@link ProcessLauncher}, off the loop.
 */
final class WorkerProcess {

  enum State { STARTING, READY, DRAINING, STOPPING, DEAD }

  private static final Logger LOG = LoggerFactory.getLogger(WorkerProcess.class);
  private static final Logger PY_LOG = LoggerFactory.getLogger("snakepit.python");
  private static final int STDERR_LINES_KEPT = 40;

  final String id;
  final int slot;
  final WorkerPool pool;
  State state = State.STARTING;
  long pid = -1;
  Process process;
  OutputStream stdin;
  NetSocket socket;
  long startedAtMillis = System.currentTimeMillis();
  long readyAtMillis;
  long requestsServed;
  long lastPongNanos;
  /** Resident memory: read from the OS where it can be ({@link ProcessMemory}), else as the worker reports it. */
  long rssBytes;
  /** Whether {@link #rssBytes} came from the OS; then the worker's own figure is ignored. */
  private boolean rssMeasured;
  /** Why the node ended this worker, when it did; {@code null} means it died by itself. */
  String killReason;
  JsonArray tools = new JsonArray();
  final Map<Integer, Call> inflight = new HashMap<>();
  /** Sessions that ran calls here, whose Python-side state this process may hold (for handoff). */
  final java.util.LinkedHashSet<String> sessions = new java.util.LinkedHashSet<>();
  private static final int SESSIONS_TRACKED = 100_000;
  /** Completes when the OS process has exited and been reaped. */
  final io.vertx.core.Promise<Void> exited = io.vertx.core.Promise.promise();
  private final Deque<String> lastStderr = new ArrayDeque<>();
  private int nextRequestId = 1;
  private long startTimer = -1;
  private long stopTimer = -1;

  WorkerProcess(String id, int slot, WorkerPool pool) {
    this.id = id;
    this.slot = slot;
    this.pool = pool;
  }

  boolean isReady() {
    return state == State.READY;
  }

  boolean hasCapacity() {
    return state == State.READY && inflight.size() < pool.config.concurrency();
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  void onSpawned(Process p) {
    process = p;
    pid = p.pid();
    stdin = p.getOutputStream();
    if (state == State.DEAD || state == State.STOPPING) {
      // Stopped while spawning: end it at once.
      p.destroyForcibly();
      return;
    }
    startTimer = pool.vertx.setTimer(pool.config.startTimeoutMs(), t -> {
      if (state == State.STARTING) {
        kill("did not connect within start-timeout-ms=" + pool.config.startTimeoutMs());
      }
    });
  }

  /** The endpoint accepted this worker's handshake. */
  void onConnected(NetSocket s, JsonObject hello) {
    if (state != State.STARTING) {
      s.close();
      return;
    }
    socket = s;
    pool.vertx.cancelTimer(startTimer);
    tools = hello.getJsonArray("tools", new JsonArray());
    state = State.READY;
    readyAtMillis = System.currentTimeMillis();
    lastPongNanos = System.nanoTime();
    send(Frame.of(FrameType.WELCOME, 0, new JsonObject()
        .put("protocol", FrameCodec.PROTOCOL_VERSION)
        .put("node_id", pool.supervisor.nodeId())
        .put("heartbeat_ms", pool.config.heartbeatMs())
        .put("max_frame_bytes", pool.supervisor.maxFrameBytes())));
    pool.onWorkerReady(this);
  }

  void onDisconnected() {
    socket = null;
    if (state != State.DEAD && state != State.STOPPING) {
      // The process is about to exit, or is hung with a closed socket: make sure.
      kill("closed its connection");
    }
  }

  /** The OS process has exited; {@code tail} is what it wrote to its captured stderr. */
  void onExit(int exitCode, String tail) {
    State was = state;
    state = State.DEAD;
    pool.vertx.cancelTimer(startTimer);
    pool.vertx.cancelTimer(stopTimer);
    // The capture file holds what the worker wrote to stderr synchronously (the runtime tees
    // sys.stderr there), so it survives SIGKILL; the lines forwarded over the socket may not.
    String stderr = tail != null && !tail.isBlank() ? tail.strip() : String.join("\n", lastStderr);
    if (was == State.STARTING && tail != null && !tail.isBlank()) {
      PY_LOG.warn("[{}] exited before connecting; its output:\n{}", id, tail.strip());
    }
    for (Call call : inflight.values()) {
      pool.vertx.cancelTimer(call.callTimer);
      call.fail(new SnakepitException(ErrorCode.WORKER_CRASHED,
          "Worker " + id + " (pid " + pid + ") died during the call (exit " + exitCode
              + (killReason != null ? ", " + killReason : "") + ").",
          null, new JsonObject().put("worker", id).put("exit_code", exitCode).put("stderr", stderr)));
    }
    inflight.clear();
    if (socket != null) {
      socket.close();
      socket = null;
    }
    closeStdin();
    exited.tryComplete();
    pool.onWorkerExit(this, was, exitCode, stderr);
  }

  /** Ends the process now with SIGKILL. */
  void kill(String reason) {
    if (state == State.DEAD) {
      return;
    }
    if (killReason == null) {
      killReason = reason;
    }
    LOG.warn("Killing worker {} (pid {}): {}", id, pid, reason);
    if (state != State.STOPPING) {
      state = State.DRAINING;
    }
    if (process != null) {
      process.destroyForcibly();
    }
  }

  /**
   * Stops gracefully: no new calls; once in-flight calls are done (or
   * {@code drainMs} passed) asks the worker to exit, then SIGTERM, then SIGKILL.
   */
  void stop(long drainMs, String reason) {
    if (state == State.DEAD || state == State.STOPPING) {
      return;
    }
    if (killReason == null) {
      killReason = reason;
    }
    if (state == State.STARTING || socket == null) {
      state = State.STOPPING;
      if (process != null) {
        process.destroyForcibly();
      }
      return;
    }
    state = State.DRAINING;
    if (inflight.isEmpty()) {
      shutdownNow();
    } else {
      stopTimer = pool.vertx.setTimer(Math.max(1, drainMs), t -> shutdownNow());
    }
  }

  /** Called when a draining worker's last call finishes. */
  void maybeFinishDrain() {
    if (state == State.DRAINING && inflight.isEmpty() && killReason != null && socket != null) {
      pool.vertx.cancelTimer(stopTimer);
      shutdownNow();
    }
  }

  private void shutdownNow() {
    if (state == State.DEAD || state == State.STOPPING) {
      return;
    }
    state = State.STOPPING;
    long grace = pool.config.stopGraceMs();
    send(Frame.of(FrameType.SHUTDOWN, 0, new JsonObject().put("deadline_ms", grace)));
    closeStdin();
    stopTimer = pool.vertx.setTimer(grace, t -> {
      if (process != null && process.isAlive()) {
        LOG.info("Worker {} still running {} ms after SHUTDOWN; sending SIGTERM", id, grace);
        process.destroy();
        stopTimer = pool.vertx.setTimer(grace, t2 -> {
          if (process.isAlive()) {
            LOG.warn("Worker {} ignored SIGTERM; sending SIGKILL", id);
            process.destroyForcibly();
          }
        });
      }
    });
  }

  private void closeStdin() {
    if (stdin != null) {
      try {
        stdin.close();
      } catch (IOException ignored) {
        // the process is gone already
      }
      stdin = null;
    }
  }

  // ---- calls -----------------------------------------------------------------------------------

  void dispatch(Call call) {
    int rid = nextRequestId;
    nextRequestId = nextRequestId == Integer.MAX_VALUE ? 1 : nextRequestId + 1;
    call.worker = this;
    call.requestId = rid;
    inflight.put(rid, call);
    ExecuteRequest r = call.request;
    if (r.sessionId() != null && !r.tool().startsWith(ExecuteRequest.RESERVED_PREFIX)
        && sessions.add(r.sessionId()) && sessions.size() > SESSIONS_TRACKED) {
      sessions.remove(sessions.iterator().next());
    }
    JsonObject body = new JsonObject().put("tool", r.tool()).put("args", r.args())
        .put("correlation_id", r.correlationId()).put("stream", call.isStream());
    if (r.sessionId() != null) {
      body.put("session_id", r.sessionId());
    }
    if (call.isStream()) {
      body.put("credit", call.pendingCredit);
      call.pendingCredit = 0;
    }
    body.put("timeout_ms", call.timeoutMs);
    send(new Frame(FrameType.REQUEST, rid, body, null));
    call.callTimer = pool.vertx.setTimer(call.timeoutMs, t -> onCallTimeout(call));
    if (call.isStream()) {
      call.observer.onStart(id);
    }
  }

  private void onCallTimeout(Call call) {
    call.callTimer = -1;
    if (inflight.get(call.requestId) != call) {
      return;
    }
    call.fail(new SnakepitException(ErrorCode.TIMEOUT,
        "Tool '" + call.request.tool() + "' ran past its timeout of " + call.timeoutMs + " ms and was cancelled.",
        null, new JsonObject().put("worker", id)));
    cancel(call);
  }

  /** Sends CANCEL; a worker that does not answer within cancel-grace-ms is killed. */
  void cancel(Call call) {
    if (inflight.get(call.requestId) != call || state == State.DEAD) {
      return;
    }
    pool.vertx.cancelTimer(call.callTimer);
    send(Frame.of(FrameType.CANCEL, call.requestId, new JsonObject()));
    pool.vertx.setTimer(pool.config.cancelGraceMs(), t -> {
      if (inflight.get(call.requestId) == call) {
        // The kill is about this call: its log line carries the call's correlation id.
        io.snakepit.contract.CorrelatedLog.with(call.request.correlationId(), () -> kill("did not stop tool '"
            + call.request.tool() + "' within cancel-grace-ms=" + pool.config.cancelGraceMs() + " after a cancel"));
      }
    });
  }

  void grantCredit(Call call, int n) {
    if (inflight.get(call.requestId) == call && socket != null) {
      send(Frame.of(FrameType.CREDIT, call.requestId, new JsonObject().put("n", n)));
    }
  }

  void sessionClosed(String sessionId) {
    sessions.remove(sessionId);
    if (socket != null && state != State.DEAD) {
      send(Frame.of(FrameType.SESSION_CLOSED, 0, new JsonObject().put("session_id", sessionId)));
    }
  }

  // ---- frames ----------------------------------------------------------------------------------

  void send(Frame frame) {
    if (socket != null) {
      socket.write(FrameCodec.encode(frame));
    }
  }

  void onFrame(Frame f) {
    switch (f.type()) {
      case RESULT -> {
        Call call = complete(f.id());
        if (call != null) {
          call.succeed(new JsonObject().put("result", f.body().getValue("result")).put("worker", id)
              .put("node", pool.supervisor.nodeId()));
          pool.onCallDone(this);
        }
      }
      case ERROR -> {
        Call call = complete(f.id());
        if (call != null) {
          call.fail(workerError(f.body(), call));
          pool.onCallDone(this);
        }
      }
      case CHUNK -> {
        Call call = inflight.get(f.id());
        if (call != null) {
          call.item(f.body().getValue("item"));
        }
      }
      case END -> {
        Call call = complete(f.id());
        if (call != null) {
          call.end();
          pool.onCallDone(this);
        }
      }
      case PONG -> {
        lastPongNanos = System.nanoTime();
        Long rss = f.body().getLong("rss");
        if (rss != null && !rssMeasured) {
          rssBytes = rss;
        }
      }
      case LOG -> logRecord(f.body());
      case CALL -> pool.supervisor.nodeCalls().handle(this, f);
      default -> throw new io.snakepit.protocol.ProtocolException("a worker may not send " + f.type());
    }
  }

  private Call complete(int requestId) {
    Call call = inflight.remove(requestId);
    if (call == null) {
      return null;
    }
    pool.vertx.cancelTimer(call.callTimer);
    requestsServed++;
    return call;
  }

  private SnakepitException workerError(JsonObject body, Call call) {
    String code = body.getString("code", "tool_failed");
    ErrorCode ec = switch (code) {
      case "unknown_tool" -> ErrorCode.UNKNOWN_TOOL;
      case "bad_request" -> ErrorCode.BAD_REQUEST;
      case "cancelled" -> ErrorCode.CANCELLED;
      default -> ErrorCode.TOOL_FAILED;
    };
    JsonObject details = new JsonObject().put("worker", id);
    for (String k : Set.of("type", "traceback", "tools")) {
      if (body.containsKey(k)) {
        details.put(k, body.getValue(k));
      }
    }
    String message = body.getString("message", "");
    if (ec == ErrorCode.TOOL_FAILED) {
      message = "Tool '" + call.request.tool() + "' raised " + body.getString("type", "an exception") + ": " + message;
    }
    return new SnakepitException(ec, message, null, details);
  }

  private void logRecord(JsonObject rec) {
    String message = rec.getString("message", "");
    String stream = rec.getString("stream");
    if ("stderr".equals(stream)) {
      rememberStderr(message);
    }
    String cid = rec.getString("correlation_id");
    MDC.put("worker_id", id);
    if (cid != null) {
      MDC.put("correlation_id", cid);
    }
    try {
      String level = rec.getString("level", "INFO");
      String logger = rec.getString("logger", "python");
      switch (level) {
        case "CRITICAL", "ERROR" -> PY_LOG.error("[{}] {}: {}", id, logger, message);
        case "WARNING", "WARN" -> PY_LOG.warn("[{}] {}: {}", id, logger, message);
        case "DEBUG" -> PY_LOG.debug("[{}] {}: {}", id, logger, message);
        default -> PY_LOG.info("[{}] {}: {}", id, logger, message);
      }
    } finally {
      MDC.remove("worker_id");
      MDC.remove("correlation_id");
    }
  }

  private void rememberStderr(String line) {
    if (lastStderr.size() == STDERR_LINES_KEPT) {
      lastStderr.removeFirst();
    }
    lastStderr.addLast(line.length() > 1000 ? line.substring(0, 1000) : line);
  }

  // ---- heartbeats and recycling ----------------------------------------------------------------

  /** The pool read this process's RSS from the OS; it overrides what the worker reports from now on. */
  void rssFromOs(long pid, long bytes) {
    if (bytes >= 0 && pid == this.pid && state != State.DEAD) {
      rssBytes = bytes;
      rssMeasured = true;
    }
  }

  /** Called every heartbeat interval; returns why the worker should be recycled, or null. */
  String tick(long nowNanos) {
    if (state != State.READY && state != State.DRAINING) {
      return null;
    }
    long silentMs = (nowNanos - lastPongNanos) / 1_000_000;
    if (silentMs > pool.config.heartbeatTimeoutMs()) {
      kill("no heartbeat for " + silentMs + " ms (heartbeat-timeout-ms=" + pool.config.heartbeatTimeoutMs() + ")");
      return null;
    }
    send(Frame.of(FrameType.PING, 0, new JsonObject().put("t", System.currentTimeMillis())));
    if (state != State.READY) {
      return null;
    }
    PoolConfig c = pool.config;
    if (c.maxRequests() > 0 && requestsServed >= c.maxRequests()) {
      return "served " + requestsServed + " requests (max-requests=" + c.maxRequests() + ")";
    }
    if (c.maxRssBytes() > 0 && rssBytes > c.maxRssBytes()) {
      return "RSS " + (rssBytes >> 20) + " MiB over max-rss-mb=" + (c.maxRssBytes() >> 20);
    }
    if (c.maxAgeMs() > 0 && System.currentTimeMillis() - startedAtMillis > c.maxAgeMs()) {
      return "older than max-age-s=" + c.maxAgeMs() / 1000;
    }
    return null;
  }

  JsonObject toJson() {
    return new JsonObject().put("id", id).put("pool", pool.config.name()).put("pid", pid)
        .put("state", state.name().toLowerCase()).put("requests", requestsServed).put("inflight", inflight.size())
        .put("rss_bytes", rssBytes).put("started_at", startedAtMillis);
  }
}
