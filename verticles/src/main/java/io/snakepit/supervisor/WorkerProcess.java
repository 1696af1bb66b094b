package io.snakepit.supervisor;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.ExecuteRequest;
import io.snakepit.contract.SnakepitException;
import io.snakepit.protocol.Frame;
import io.snakepit.protocol.FrameCodec;
import io.snakepit.protocol.FrameType;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetSocket;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Python worker process and its connection. Every method runs on the
 * supervisor's event loop; process spawn and exit arrive through the
 * pool's {@link Forkserver}, whose child the process is. The state changes only in
 * {@link #moveTo}, as {@link WorkerState} allows. Its calls are kept by
 * {@link InflightCalls}, what it sends is handled by a
 * {@link WorkerFrameHandler}, its output logged by a
 * {@link PythonLogForwarder}, and a graceful stop timed by a
 * {@link StopEscalation}.
 */
final class WorkerProcess {

  private static final Logger LOG = LoggerFactory.getLogger(WorkerProcess.class);
  /** Sessions one worker remembers at most; past that the oldest is forgotten, so memory stays bounded. */
  private static final int SESSIONS_TRACKED = 100_000;

  private final String id;
  private final int slot;
  private final WorkerPool pool;
  private final PythonLogForwarder output;
  private final WorkerFrameHandler frames;
  private final StopEscalation stopSteps;
  private final long startedAtMillis = System.currentTimeMillis();
  private final InflightCalls calls = new InflightCalls(this);
  /** Sessions that ran calls here, whose Python-side state this process may hold (for handoff). */
  private final Set<String> sessions = new LinkedHashSet<>();
  /** Completes when the OS process has exited and been reaped. */
  private final Promise<Void> exited = Promise.promise();
  private WorkerState state = WorkerState.STARTING;
  private long pid = -1;
  /** The worker's pids cgroup directory, or null when the pool has no max-processes. */
  private String cgroup;
  private WorkerSignals signals;
  private NetSocket socket;
  private long readyAtMillis;
  private long lastPongNanos;
  /** Resident memory: read from the OS where it can be ({@link ProcessMemory}), else as the worker reports it. */
  private long rssBytes;
  /** Whether {@link #rssBytes} came from the OS; then the worker's own figure is ignored. */
  private boolean rssMeasured;
  /** Why the node ended this worker, when it did; {@code null} means it died by itself. */
  private String killReason;
  private JsonArray tools = new JsonArray();
  private long startTimer = -1;

  WorkerProcess(String id, int slot, WorkerPool pool) {
    this.id = id;
    this.slot = slot;
    this.pool = pool;
    this.output = new PythonLogForwarder(id);
    this.frames = new WorkerFrameHandler(this, calls, output);
    this.stopSteps = new StopEscalation(pool.vertx(), id);
  }

  // ---- identity and state ----------------------------------------------------------------------

  /** {@code <pool>-<slot>.<generation>@<incarnation>}: never the same twice, across restarts of the node too. */
  String id() {
    return id;
  }

  int slot() {
    return slot;
  }

  WorkerPool pool() {
    return pool;
  }

  WorkerState state() {
    return state;
  }

  boolean isReady() {
    return state == WorkerState.READY;
  }

  /** Ready, with fewer calls in flight than the pool's concurrency. */
  boolean hasCapacity() {
    return state == WorkerState.READY && calls.count() < pool.config().concurrency();
  }

  int inflightCount() {
    return calls.count();
  }

  /** The OS process id; -1 until spawned. */
  long pid() {
    return pid;
  }

  /** The tools the adapter declared in its HELLO. */
  JsonArray tools() {
    return tools;
  }

  /** How long the worker took from spawn to its HELLO. */
  long startupMillis() {
    return readyAtMillis - startedAtMillis;
  }

  /** Why the node ended this worker, or null when it died by itself. */
  String killReason() {
    return killReason;
  }

  /** Completes when the OS process has exited and been reaped. */
  Future<Void> exited() {
    return exited.future();
  }

  /**
   * The one place the state changes. Staying in a state is no change. A
   * change the table refuses is a bug of ours: it is logged with its stack
   * and ignored, and the worker keeps its state. It is not thrown, because
   * changes happen inside timer, socket and exit callbacks, where an
   * exception would skip the rest of the callback (failing the in-flight
   * calls, stopping the other workers) and leave more broken than it guards.
   */
  private void moveTo(WorkerState next) {
    if (next == state) {
      return;
    }
    if (!state.canMoveTo(next)) {
      LOG.error("Worker {}: refused the state change {} -> {}, which WorkerState does not allow", id, state, next,
          new IllegalStateException("worker state change " + state + " -> " + next));
      return;
    }
    LOG.debug("Worker {}: {} -> {}", id, state, next);
    state = next;
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  /** The forkserver started the process; {@code cgroupDir} is its pids cgroup, or null. */
  void onSpawned(long pid, String cgroupDir, WorkerSignals signals) {
    this.pid = pid;
    this.cgroup = cgroupDir;
    this.signals = signals;
    if (state.isEnding()) {
      // Stopped while spawning: end it at once.
      signals.kill();
      return;
    }
    startTimer = pool.vertx().setTimer(pool.config().startTimeoutMs(), t -> {
      if (state == WorkerState.STARTING) {
        kill("did not connect within start-timeout-ms=" + pool.config().startTimeoutMs());
      }
    });
  }

  /** The endpoint accepted this worker's handshake. */
  void onConnected(NetSocket s, JsonObject hello) {
    if (state != WorkerState.STARTING) {
      s.close();
      return;
    }
    socket = s;
    pool.vertx().cancelTimer(startTimer);
    tools = hello.getJsonArray("tools", new JsonArray());
    moveTo(WorkerState.READY);
    readyAtMillis = System.currentTimeMillis();
    lastPongNanos = System.nanoTime();
    send(Frame.of(FrameType.WELCOME, 0, new JsonObject()
        .put("protocol", FrameCodec.PROTOCOL_VERSION)
        .put("node_id", pool.supervisor().nodeId())
        .put("heartbeat_ms", pool.config().heartbeatMs())
        .put("max_frame_bytes", pool.supervisor().maxFrameBytes())));
    pool.onWorkerReady(this);
  }

  void onDisconnected() {
    socket = null;
    if (!state.isEnding()) {
      // The process is about to exit, or is hung with a closed socket: make sure.
      kill("closed its connection");
    }
  }

  /** The OS process has exited; {@code tail} is what it wrote to its captured stderr. */
  void onExit(int exitCode, String tail) {
    WorkerState was = state;
    moveTo(WorkerState.DEAD);
    pool.vertx().cancelTimer(startTimer);
    stopSteps.cancel();
    String stderr = output.lastWords(tail, was == WorkerState.STARTING);
    calls.failAll(() -> new SnakepitException(ErrorCode.WORKER_CRASHED,
        "Worker " + id + " (pid " + pid + ") died during the call (exit " + exitCode
            + (killReason != null ? ", " + killReason : "") + ").",
        null, new JsonObject().put("worker", id).put("exit_code", exitCode).put("stderr", stderr)));
    if (socket != null) {
      socket.close();
      socket = null;
    }
    exited.tryComplete();
    pool.onWorkerExit(this, was, exitCode, stderr);
  }

  /** Ends the process now with SIGKILL; it takes no more calls while its exit is on the way. */
  void kill(String reason) {
    if (state == WorkerState.DEAD) {
      return;
    }
    endedBecause(reason);
    LOG.warn("Killing worker {} (pid {}): {}", id, pid, reason);
    if (state != WorkerState.STOPPING) {
      moveTo(WorkerState.DRAINING);
    }
    if (signals != null) {
      signals.kill();
    }
  }

  /**
   * The worker broke the wire protocol: every call in flight here fails with {@code protocol_error} (the
   * documented code, rather than the {@code worker_crashed} its exit would give), and it is killed.
   */
  void brokeProtocol(String message) {
    if (state == WorkerState.DEAD) {
      return;
    }
    calls.failAll(() -> new SnakepitException(ErrorCode.PROTOCOL_ERROR, "Worker " + id + " broke the wire protocol ("
        + message + ") and is replaced; the call's outcome is unknown.", null,
        new JsonObject().put("worker", id).put(SnakepitException.DETAIL_TOOL_RAN, true)));
    kill("protocol error: " + message);
  }

  /**
   * A limit of the pool was breached ({@link WorkerLimits}): every call in
   * flight here fails with {@code worker_limit_exceeded} naming it, and the
   * pool replaces the worker.
   */
  void overLimit(String limit, String message) {
    if (state.isEnding() || state == WorkerState.DEAD) {
      return;
    }
    calls.failAll(() -> limitExceeded(limit, message));
    pool.replaceOverLimit(this, message);
  }

  /** The error of a breached limit, as callers get it. */
  SnakepitException limitExceeded(String limit, String message) {
    return new SnakepitException(ErrorCode.WORKER_LIMIT_EXCEEDED, message, null,
        new JsonObject().put("worker", id).put("limit", limit));
  }

  /**
   * Stops gracefully: no new calls; once in-flight calls are done (or
   * {@code drainMs} passed) asks the worker to exit, then SIGTERM, then SIGKILL.
   */
  void stop(long drainMs, String reason) {
    if (state.isEnding()) {
      return;
    }
    endedBecause(reason);
    if (state == WorkerState.STARTING || socket == null) {
      // Not connected, yet or any more: nothing to drain and nobody to ask.
      moveTo(WorkerState.STOPPING);
      if (signals != null) {
        signals.kill();
      }
      return;
    }
    moveTo(WorkerState.DRAINING);
    if (calls.count() == 0) {
      shutdownNow();
    } else {
      stopSteps.drainFor(drainMs, this::shutdownNow);
    }
  }

  /** The first reason the node gave for ending the worker is the one reported. */
  private void endedBecause(String reason) {
    if (killReason == null) {
      killReason = reason;
    }
  }

  /** Called when a call ends on a draining worker: once its last call is done, it need not wait for the deadline. */
  void shutdownIfDrained() {
    if (state == WorkerState.DRAINING && calls.count() == 0 && killReason != null && socket != null) {
      stopSteps.cancel();
      shutdownNow();
    }
  }

  private void shutdownNow() {
    if (state.isEnding()) {
      return;
    }
    moveTo(WorkerState.STOPPING);
    long grace = pool.config().stopGraceMs();
    send(Frame.of(FrameType.SHUTDOWN, 0, new JsonObject().put("deadline_ms", grace)));
    stopSteps.signalAfter(signals, () -> state != WorkerState.DEAD, grace);
  }

  // ---- calls -----------------------------------------------------------------------------------

  void dispatch(PoolCall call) {
    ExecuteRequest r = call.executeRequest();
    if (r.sessionId() != null && !r.tool().startsWith(ExecuteRequest.RESERVED_PREFIX)) {
      rememberSession(r.sessionId());
    }
    calls.start(call);
  }

  /** Sends CANCEL; a worker that does not answer within cancel-grace-ms is killed. */
  void cancel(PoolCall call) {
    calls.cancel(call);
  }

  /** Lets the worker send {@code n} more items of a stream. */
  void grantCredit(PoolCall call, int n) {
    calls.grantCredit(call, n);
  }

  /** A call in flight here that runs in this session, or null: a tool may reach only its own session. */
  PoolCall inflightCallInSession(String sessionId) {
    return calls.inSession(sessionId);
  }

  // ---- sessions --------------------------------------------------------------------------------

  /** Notes that this process may now hold the session's Python-side state. */
  void rememberSession(String sessionId) {
    if (sessions.add(sessionId) && sessions.size() > SESSIONS_TRACKED) {
      sessions.remove(sessions.iterator().next());
    }
  }

  /** Whether a call of this session ran here (and the session has not been forgotten since). */
  boolean holdsSession(String sessionId) {
    return sessions.contains(sessionId);
  }

  /** The sessions whose state this process may hold, oldest first: a live read-only view, so copy it to keep it. */
  Set<String> sessions() {
    return Collections.unmodifiableSet(sessions);
  }

  /** The session's state is no longer this process's to export (handed over, or the session is gone). */
  void forgetSession(String sessionId) {
    sessions.remove(sessionId);
  }

  /** Forgets the session and tells the worker, so its adapter can drop the session's state. */
  void sessionClosed(String sessionId) {
    forgetSession(sessionId);
    if (socket != null && state != WorkerState.DEAD) {
      send(Frame.of(FrameType.SESSION_CLOSED, 0, new JsonObject().put("session_id", sessionId)));
    }
  }

  // ---- frames ----------------------------------------------------------------------------------

  void send(Frame frame) {
    if (socket != null) {
      socket.write(FrameCodec.encode(frame));
    }
  }

  /** A frame from the connected worker. */
  void onFrame(Frame f) {
    frames.handle(f);
  }

  /** The worker answered a PING, with the RSS it sees for itself. */
  void ponged(Long rss) {
    lastPongNanos = System.nanoTime();
    if (rss != null && !rssMeasured) {
      rssBytes = rss;
    }
  }

  // ---- heartbeats and recycling ----------------------------------------------------------------

  /** The worker's pids cgroup directory, or null. */
  String cgroup() {
    return cgroup;
  }

  /**
   * The pool read this process's usage from the OS: its RSS overrides what
   * the worker reports from now on, and a call past the pool's CPU limit, or
   * a process the cgroup refused, is a breached limit.
   */
  void usageFromOs(long pid, ProcessUsage usage) {
    if (pid != this.pid || state == WorkerState.DEAD) {
      return;
    }
    if (usage.rssBytes() >= 0) {
      rssBytes = usage.rssBytes();
      rssMeasured = true;
    }
    WorkerLimits limits = pool.config().limits();
    if (limits.processes() > 0 && usage.processesRefused() > 0) {
      overLimit(WorkerLimits.PROCESSES, "Worker " + id + " tried to start more than max-processes="
          + limits.processes() + " processes or threads (" + usage.processesRefused() + " refused); it is replaced.");
      return;
    }
    if (limits.cpuMsPerCall() > 0 && usage.cpuMillis() >= 0) {
      PoolCall over = calls.pastCpu(usage.cpuMillis(), limits.cpuMsPerCall());
      if (over != null) {
        overLimit(WorkerLimits.CPU, "Tool '" + over.executeRequest().tool() + "' used more than max-cpu-s-per-call="
            + limits.cpuMsPerCall() / 1000 + " s of CPU; the worker is replaced.");
      }
    }
  }

  /**
   * Called every heartbeat interval: kills a worker silent for too long,
   * PINGs the others, and returns why a ready one should be recycled, or null.
   */
  String heartbeat(long nowNanos) {
    if (!state.isActive()) {
      return null;
    }
    long silentMs = (nowNanos - lastPongNanos) / 1_000_000;
    if (silentMs > pool.config().heartbeatTimeoutMs()) {
      kill("no heartbeat for " + silentMs + " ms (heartbeat-timeout-ms=" + pool.config().heartbeatTimeoutMs() + ")");
      return null;
    }
    send(Frame.of(FrameType.PING, 0, new JsonObject().put("t", System.currentTimeMillis())));
    if (state != WorkerState.READY) {
      return null;
    }
    String served = servedEnough();
    if (served != null) {
      return served;
    }
    PoolConfig c = pool.config();
    if (c.maxRssBytes() > 0 && rssBytes > c.maxRssBytes()) {
      return "RSS " + (rssBytes >> 20) + " MiB over max-rss-mb=" + (c.maxRssBytes() >> 20);
    }
    if (c.maxAgeMs() > 0 && System.currentTimeMillis() - startedAtMillis > c.maxAgeMs()) {
      return "older than max-age-s=" + c.maxAgeMs() / 1000;
    }
    return null;
  }

  /** Why this worker has served enough calls to be recycled (max-requests), or null. */
  String servedEnough() {
    long max = pool.config().maxRequests();
    long served = calls.answered();
    return max > 0 && served >= max ? "served " + served + " requests (max-requests=" + max + ")" : null;
  }

  JsonObject toJson() {
    return new JsonObject().put("id", id).put("pool", pool.config().name()).put("pid", pid)
        .put("state", state.name().toLowerCase()).put("requests", calls.answered()).put("inflight", calls.count())
        .put("rss_bytes", rssBytes).put("started_at", startedAtMillis);
  }
}
