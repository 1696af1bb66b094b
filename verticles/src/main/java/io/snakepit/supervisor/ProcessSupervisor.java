package io.snakepit.supervisor;

import io.snakepit.contract.Addresses;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.ExecuteRequest;
import io.snakepit.contract.SnakepitException;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Metrics;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The in-process face of process supervision: a node's pools, the socket its
 * workers connect to, and the calls that run on them. The
 * {@link ProcessSupervisorVerticle} serves it over the event bus; embedding
 * code on the same Vert.x context may call it directly.
 *
 * <p>All state is confined to one Vert.x context; methods called from
 * elsewhere hop onto it.
 */
public final class ProcessSupervisor {

  private static final Logger LOG = LoggerFactory.getLogger(ProcessSupervisor.class);

  private final Vertx vertx;
  private final Context context;
  private final SupervisorConfig config;
  private final Map<String, WorkerPool> pools = new LinkedHashMap<>();
  private final NodeCalls nodeCalls;
  private final String token;
  private final WorkerRegistry registry;
  private WorkerEndpoint endpoint;
  private Path pythonRuntime;
  private Path runDir;
  private boolean stopping;
  private final MeterRegistry meterRegistry;
  /** This run of the supervisor, which every worker id ends with; see {@link Incarnation}. */
  private final String incarnation = Incarnation.next();

  public ProcessSupervisor(Vertx vertx, Context context, SupervisorConfig config) {
    this(vertx, context, config, Metrics.globalRegistry);
  }

  /** As {@link #ProcessSupervisor(Vertx, Context, SupervisorConfig)}, recording metrics into {@code registry}. */
  public ProcessSupervisor(Vertx vertx, Context context, SupervisorConfig config, MeterRegistry registry) {
    this.meterRegistry = registry;
    this.nodeCalls = new NodeCalls(vertx);
    this.vertx = vertx;
    this.context = context;
    this.config = config;
    byte[] secret = new byte[32];
    new SecureRandom().nextBytes(secret);
    this.token = HexFormat.of().formatHex(secret);
    this.registry = new WorkerRegistry(config.dataDir() == null ? null : Paths.get(config.dataDir()));
  }

  /** The supervisor's spans when the node traces; null when it does not, and nothing is traced. */
  private CallTracing tracing;

  /**
   * Traces calls with {@code tracer} (docs/tracing.md): each call that arrives in a sampled trace gets a
   * span on its worker, the worker's own spans, and spans of the node calls it makes. Call before
   * {@link #start()}; without it nothing is traced.
   */
  public void traceWith(io.opentelemetry.api.trace.Tracer tracer) {
    this.tracing = new CallTracing(tracer, config.nodeId());
    nodeCalls.traceWith(tracing);
  }

  /** The supervisor's spans, or null when the node does not trace. */
  CallTracing tracing() {
    return tracing;
  }

  /** The context all of this supervisor's state is confined to. */
  public Context context() {
    return context;
  }

  public String nodeId() {
    return config.nodeId();
  }

  /** Where the pools record their metrics. */
  MeterRegistry meterRegistry() {
    return meterRegistry;
  }

  int maxFrameBytes() {
    return config.maxFrameBytes();
  }

  /** Where workers connect ({@code unix:PATH} or {@code tcp:HOST:PORT}); for diagnostics and tests. */
  public String workerEndpoint() {
    return endpoint == null ? null : endpoint.endpoint();
  }

  /** Operations workers may call on the node; other verticles register theirs here. */
  public NodeCalls nodeCalls() {
    return nodeCalls;
  }

  /** Prepares the run directory, ends leftovers of an earlier run, listens, and starts every pool. */
  public Future<Void> start() {
    return context.<Path>executeBlocking(() -> {
      int reaped = registry.reapLeftovers();
      if (reaped > 0) {
        LOG.warn("Ended {} worker(s) left behind by an earlier run of node {}", reaped, config.nodeId());
      }
      Path dataDir = config.dataDir() == null ? null : Paths.get(config.dataDir());
      RunDirectory.removeLeftover(dataDir).ifPresent(old ->
          LOG.warn("Removed run directory {} left behind by an earlier run of node {}", old, config.nodeId()));
      Path base = config.runDirBase() == null ? Paths.get(System.getProperty("java.io.tmpdir"))
          : Paths.get(config.runDirBase());
      Files.createDirectories(base);
      String tag = config.nodeId().replaceAll("[^A-Za-z0-9]", "");
      Path dir = Files.createTempDirectory(base, "snakepit-" + tag.substring(0, Math.min(12, tag.length())) + "-",
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
      runDir = dir;
      RunDirectory.record(dataDir, dir);
      return PythonRuntime.extract(dir);
    }, false).compose(python -> {
      endpoint = new WorkerEndpoint(vertx, token, config.maxFrameBytes(), this::awaitingWorker);
      return endpoint.listen(runDir, config.transport()).map(python);
    }).compose(python -> {
      LOG.info("Node {} listening for workers on {}", config.nodeId(), endpoint.endpoint());
      pythonRuntime = python;
      List<Future<Void>> started = new ArrayList<>();
      for (PoolConfig pc : config.pools().values()) {
        WorkerPool pool = new WorkerPool(pc, vertx, this, incarnation);
        pools.put(pc.name(), pool);
        started.add(pool.start());
      }
      // The node's own arrival and departure (node.joined, node.draining, node.left) are the router's to
      // announce: it knows the cluster's membership. A pool that cannot start (its interpreter, a limit it
      // cannot enforce) fails the start; the pools that did start are stopped, so no process is left.
      return Future.join(started).<Void>mapEmpty()
          .recover(e -> stop().transform(v -> Future.<Void>failedFuture(e)));
    });
  }

  /** Drains every pool, stops every worker, and removes the run directory. */
  public Future<Void> stop() {
    stopping = true;
    List<Future<Void>> stopped = new ArrayList<>();
    for (WorkerPool p : pools.values()) {
      stopped.add(p.stop());
    }
    return Future.join(stopped)
        .onComplete(v -> pools.values().forEach(p -> p.metrics().close()))
        .transform(v -> endpoint == null ? Future.succeededFuture() : endpoint.close())
        .transform(v -> context.executeBlocking(() -> {
          RunDirectory.deleteTree(runDir);
          return null;
        }, false))
        .mapEmpty();
  }

  /**
   * The forkserver of a pool, with the environment its workers get: the
   * node's, the pool's {@code env}, PYTHONPATH with the runtime first, and
   * the SNAKEPIT_* variables of docs/protocol.md and of the forkserver.
   */
  Forkserver forkserverFor(WorkerPool pool) {
    return forkserverFor(pool, 0);
  }

  /**
   * The pool's forkserver; {@code generation} counts its reloads (0 at start), so that a reload's new
   * forkserver has a registry name and a pids cgroup of its own while the old one still runs.
   */
  Forkserver forkserverFor(WorkerPool pool, int generation) {
    String gen = generation == 0 ? "" : "-r" + generation;
    PoolConfig c = pool.config();
    Map<String, String> env = new LinkedHashMap<>(System.getenv());
    env.putAll(c.env());
    List<String> path = new ArrayList<>();
    path.add(pythonRuntime.toString());
    if (c.pythonPath() != null) {
      path.add(c.pythonPath());
    }
    String inherited = env.get("PYTHONPATH");
    if (inherited != null && !inherited.isEmpty()) {
      path.add(inherited);
    }
    env.put("PYTHONPATH", String.join(java.io.File.pathSeparator, path));
    env.put("PYTHONDONTWRITEBYTECODE", "1");
    env.put("SNAKEPIT_ENDPOINT", endpoint.endpoint());
    env.put("SNAKEPIT_TOKEN", token);
    env.put("SNAKEPIT_NODE_ID", config.nodeId());
    env.put("SNAKEPIT_ADAPTER", c.adapter());
    env.put("SNAKEPIT_CONCURRENCY", Integer.toString(c.concurrency()));
    env.put("SNAKEPIT_PARENT_PID", Long.toString(ProcessHandle.current().pid()));
    env.put("SNAKEPIT_FORKSERVER_MODE", c.forkserver() ? "fork" : "spawn");
    env.put("SNAKEPIT_PRELOAD", String.join(",", c.preload()));
    if (Paths.get(c.python()).isAbsolute()) {
      env.put("SNAKEPIT_PYTHON", c.python());
    }
    WorkerLimits limits = c.limits();
    env.put("SNAKEPIT_MAX_MEMORY_MB", Long.toString(limits.memoryMb()));
    if (limits.memoryMb() > 0) {
      // Each thread's malloc arena reserves 64 MiB of address space, which RLIMIT_AS counts; two suffice.
      env.putIfAbsent("MALLOC_ARENA_MAX", "2");
    }
    env.put("SNAKEPIT_MAX_PROCESSES", Integer.toString(limits.processes()));
    env.put("SNAKEPIT_MAX_OPEN_FILES", Integer.toString(limits.openFiles()));
    if (limits.needsCgroup()) {
      String tag = (config.nodeId() + "-" + incarnation + "-" + c.name()).replaceAll("[^A-Za-z0-9_.-]", "_");
      env.put("SNAKEPIT_CGROUP", "snakepit-" + tag + gen);
    }
    return new Forkserver(pool, context, runDir.resolve("logs"), Map.copyOf(env), registry,
        c.name() + "-forkserver" + gen + "@" + incarnation);
  }

  private WorkerProcess awaitingWorker(String id) {
    for (WorkerPool p : pools.values()) {
      for (WorkerProcess w : p.allWorkers()) {
        if (w.id().equals(id) && w.state() == WorkerState.STARTING) {
          return w;
        }
      }
    }
    return null;
  }

  // ---- calls -----------------------------------------------------------------------------------

  /** Runs a tool and completes with {@code {"result","worker","node"}}, or fails with a {@link SnakepitException}. */
  public Future<JsonObject> execute(ExecuteRequest request) {
    return execute(request, null);
  }

  /**
   * Runs a tool, preferring the given worker (the one that holds the call's
   * session state) as the request's affinity says.
   */
  public Future<JsonObject> execute(ExecuteRequest request, String preferredWorker) {
    // Read here, in the caller's context: the hop to the supervisor's context below leaves the trace behind.
    return execute(request, preferredWorker, tracing == null ? null : tracing.parentOfNewCall());
  }

  private Future<JsonObject> execute(ExecuteRequest request, String preferredWorker,
                                     io.opentelemetry.context.Context traceParent) {
    if (Vertx.currentContext() != context) {
      return onContext(() -> execute(request, preferredWorker, traceParent));
    }
    WorkerPool pool;
    try {
      pool = poolFor(request);
    } catch (SnakepitException e) {
      return Future.failedFuture(e.withCorrelationId(request.correlationId()));
    }
    PoolCall call = PoolCall.unary(request, request.timeoutMs() > 0 ? request.timeoutMs() : pool.config().callTimeoutMs());
    call.preferWorker(preferredWorker);
    call.tracedIn(traceParent);
    pool.submit(call);
    return call.future();
  }

  /**
   * Runs a streaming tool. Items reach {@code observer} on this supervisor's
   * context; the worker sends at most {@code initialCredit} items plus what
   * {@link StreamHandle#request} grants later.
   */
  public StreamHandle stream(ExecuteRequest request, StreamObserver observer, int initialCredit) {
    return stream(request, observer, initialCredit, null);
  }

  /** As {@link #stream(ExecuteRequest, StreamObserver, int)}, preferring a session's worker. */
  public StreamHandle stream(ExecuteRequest request, StreamObserver observer, int initialCredit,
                             String preferredWorker) {
    WorkerPool pool;
    try {
      pool = poolFor(request);
    } catch (SnakepitException e) {
      observer.onError(e.withCorrelationId(request.correlationId()));
      return new StreamHandle() {
        @Override
        public void request(int n) {
        }

        @Override
        public void cancel() {
        }
      };
    }
    PoolCall call = PoolCall.stream(request, request.timeoutMs() > 0 ? request.timeoutMs() : pool.config().callTimeoutMs(),
        observer, Math.max(1, initialCredit));
    call.preferWorker(preferredWorker);
    call.tracedIn(tracing == null ? null : tracing.parentOfNewCall());
    if (Vertx.currentContext() != context) {
      context.runOnContext(v -> pool.submit(call));
      return new StreamHandle() {
        @Override
        public void request(int n) {
          context.runOnContext(v -> call.request(n));
        }

        @Override
        public void cancel() {
          context.runOnContext(v -> call.cancel());
        }
      };
    }
    pool.submit(call);
    return call;
  }

  private WorkerPool poolFor(ExecuteRequest request) {
    if (stopping) {
      throw new SnakepitException(ErrorCode.SHUTTING_DOWN, "Node " + config.nodeId() + " is stopping.");
    }
    WorkerPool pool = request.pool() == null ? pools.values().stream().findFirst().orElse(null)
        : pools.get(request.pool());
    if (pool == null) {
      throw new SnakepitException(ErrorCode.UNKNOWN_POOL, "No pool named '" + request.pool() + "'.", null,
          new JsonObject().put("pools", new JsonArray(new ArrayList<>(pools.keySet()))));
    }
    JsonArray tools = pool.tools();
    if (!request.tool().startsWith(ExecuteRequest.RESERVED_PREFIX) && !tools.isEmpty() && tools.stream().noneMatch(t -> t instanceof JsonObject o
        && request.tool().equals(o.getString("name")))) {
      JsonArray names = new JsonArray();
      tools.forEach(t -> names.add(((JsonObject) t).getString("name")));
      throw new SnakepitException(ErrorCode.UNKNOWN_TOOL, "Pool '" + pool.name() + "' has no tool '"
          + request.tool() + "'.", null, new JsonObject().put("tools", names));
    }
    return pool;
  }

  /**
   * Reloads a pool's code ({@link WorkerPool#reload}); completes with
   * {@code {"pool", "reload"}} once done.
   *
   * @param handoff where retiring workers' session state goes; null when the node has none
   */
  public Future<JsonObject> reload(String poolName, SessionHandoff handoff) {
    return onContext(() -> {
      WorkerPool pool = poolName == null ? null : pools.get(poolName);
      if (pool == null) {
        return Future.failedFuture(new SnakepitException(ErrorCode.UNKNOWN_POOL, "No pool named '" + poolName
            + "'.", null, new JsonObject().put("pools", new JsonArray(new ArrayList<>(pools.keySet())))));
      }
      return pool.reload(handoff).map(r -> new JsonObject().put("pool", pool.name()).put("reload", r));
    });
  }

  /** Runs {@code action} on this supervisor's context, where its state lives. */
  <T> Future<T> onContext(java.util.function.Supplier<Future<T>> action) {
    if (Vertx.currentContext() == context) {
      return action.get();
    }
    Promise<T> p = Promise.promise();
    context.runOnContext(v -> action.get().onComplete(p));
    return p.future();
  }

  /**
   * Sessions whose Python-side state a worker holds: the worker, its pool, and
   * the sessions it served. Only workers that can still run an export.
   */
  record HeldState(String pool, String workerId, List<String> sessionIds) {
  }

  /** Every worker that holds session state, with its sessions. PoolCall on the supervisor's context. */
  List<HeldState> heldSessions() {
    List<HeldState> out = new ArrayList<>();
    for (WorkerPool pool : pools.values()) {
      for (WorkerProcess w : pool.allWorkers()) {
        if (holdsState(w) && !w.sessions().isEmpty()) {
          out.add(new HeldState(pool.name(), w.id(), List.copyOf(w.sessions())));
        }
      }
    }
    return out;
  }

  /** The worker that holds a session's state, or null. PoolCall on the supervisor's context. */
  HeldState holderOf(String sessionId) {
    for (WorkerPool pool : pools.values()) {
      for (WorkerProcess w : pool.allWorkers()) {
        if (w.holdsSession(sessionId) && holdsState(w)) {
          return new HeldState(pool.name(), w.id(), List.of(sessionId));
        }
      }
    }
    return null;
  }

  /** Whether a worker can still export the state it holds: ready, or draining before it stops. */
  private static boolean holdsState(WorkerProcess w) {
    return w.isReady() || w.state() == WorkerState.DRAINING;
  }

  /**
   * Worker {@code holder} now holds the session's newest state (it imported it): any other worker here that still
   * holds an older copy forgets it and is told the session closed there, so that a later hand-off exports the
   * newest copy. Without this a node that served a session, lost it in a partition and took it back kept two
   * holders, and handed the older one on (tests/chaos.sh --seed 11 --majority: a {@code recall} returned a value
   * remembered 20 s before). PoolCall on the supervisor's context.
   */
  void heldOnlyBy(String sessionId, String holder) {
    for (WorkerPool pool : pools.values()) {
      for (WorkerProcess w : pool.allWorkers()) {
        if (w.id().equals(holder)) {
          w.rememberSession(sessionId);
        } else if (w.holdsSession(sessionId)) {
          // Its adapter drops the old copy, unless a call of the session still runs there and may use it.
          if (w.inflightCallInSession(sessionId) == null) {
            w.sessionClosed(sessionId);
          } else {
            w.forgetSession(sessionId);
          }
        }
      }
    }
  }

  /** The worker no longer holds the session's state (it was handed off). PoolCall on the supervisor's context. */
  void forgetSession(String workerId, String sessionId) {
    for (WorkerPool pool : pools.values()) {
      for (WorkerProcess w : pool.allWorkers()) {
        if (w.id().equals(workerId)) {
          w.forgetSession(sessionId);
        }
      }
    }
  }

  /** Whether a worker with this id is alive on this node. */
  boolean isAlive(String workerId) {
    for (WorkerPool p : pools.values()) {
      for (WorkerProcess w : p.allWorkers()) {
        if (w.id().equals(workerId) && w.isReady()) {
          return true;
        }
      }
    }
    return false;
  }

  /** Tells every worker that a session is gone, so adapters can drop its state. */
  public void sessionClosed(String sessionId) {
    context.runOnContext(v -> pools.values().forEach(p -> p.sessionClosed(sessionId)));
  }

  // ---- introspection ---------------------------------------------------------------------------

  /** Every worker of every pool, as {@code GET /v1/workers} shows them. PoolCall on the supervisor's context. */
  public JsonArray workers() {
    JsonArray out = new JsonArray();
    pools.values().forEach(p -> p.allWorkers().forEach(w -> out.add(w.toJson())));
    return out;
  }

  /** Every pool with its figures. PoolCall on the supervisor's context. */
  public JsonArray pools() {
    JsonArray out = new JsonArray();
    pools.values().forEach(p -> out.add(p.toJson()));
    return out;
  }

  /** The pool with this name, or null. */
  public WorkerPool pool(String name) {
    return pools.get(name);
  }

  /** True when at least one pool has a ready worker. */
  public boolean hasReadyWorker() {
    return pools.values().stream().anyMatch(p -> p.readyCount() > 0);
  }

  void publish(String type, JsonObject event) {
    event.put("type", type).put("node", config.nodeId()).put("at", System.currentTimeMillis());
    vertx.eventBus().publish(Addresses.EVENTS, event);
  }
}
