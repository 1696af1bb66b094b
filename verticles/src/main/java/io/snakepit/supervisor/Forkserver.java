package io.snakepit.supervisor;

import io.snakepit.config.ConfigException;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's side of a pool's forkserver: the one Python process
 * ({@code python -m snakepit_worker.forkserver}) that starts, and is the
 * parent of, every worker of the pool. It imports the runtime, the adapter
 * and the pool's {@code preload} list once and forks workers from that
 * (mode {@code fork}), or spawns each with a fresh interpreter (mode
 * {@code spawn}: configured, or the adapter is not fork-safe); either way it
 * contains what the workers start (see python-worker/README.md).
 *
 * <p>Starting it is also how the pool's interpreter is resolved: a
 * {@code python} that is not an absolute path (a pyenv shim, say) runs once,
 * here, and the forkserver reports its {@code sys.executable}, which every
 * later start of the forkserver uses.
 *
 * <p>The control channel is its stdin (commands) and stdout (events), one
 * JSON object per line; one thread per pool reads the events and hands them
 * to the supervisor's event loop, where all of this class's state lives.
 * Commands are written by one thread of its own (a pipe write blocks if the
 * forkserver stops reading), in order; the worker registry's disk I/O runs
 * in {@code executeBlocking}.
 * The JVM's end closes the stdin pipe, even after SIGKILL, and the
 * forkserver then ends every worker and everything they started.
 */
final class Forkserver {

  private static final Logger LOG = LoggerFactory.getLogger(Forkserver.class);
  private static final int TAIL_BYTES = 8192;
  /** How long a stopping forkserver has to end its workers' leftovers and exit before SIGKILL. */
  private static final long EXIT_GRACE_MS = 5_000;

  private final WorkerPool pool;
  private final Context context;
  private final Path logsDir;
  private final Map<String, String> environment;
  private final WorkerRegistry registry;
  private final String registryId;
  /** Workers asked for and not yet exited, by id. */
  private final Map<String, WorkerProcess> workers = new HashMap<>();
  /** Workers asked for while the forkserver was not ready. */
  private final List<WorkerProcess> waiting = new ArrayList<>();
  /** Writes commands in order, off the event loop, without queueing behind other blocking work. */
  private final ExecutorService writer;
  private String python;
  private Process process;
  private OutputStream commands;
  private Promise<Void> ready;
  private JsonObject readyEvent;
  /** The pool's pids cgroup the forkserver reported, kept after it died; null without max-processes. */
  private String lastCgroup;
  private String failure;
  private boolean stopping;
  /** Replaced by a reload's new forkserver: stops once its last worker has exited. */
  private boolean retiring;
  private long restartDelayMs;

  /**
   * @param environment the pool's environment for the forkserver and its workers (the node's, the
   *                    pool's {@code env}, and the SNAKEPIT_* variables)
   * @param registryId  the forkserver's name in the worker registry
   */
  Forkserver(WorkerPool pool, Context context, Path logsDir, Map<String, String> environment,
             WorkerRegistry registry, String registryId) {
    this.pool = pool;
    this.context = context;
    this.logsDir = logsDir;
    this.environment = environment;
    this.registry = registry;
    this.registryId = registryId;
    this.python = pool.config().python();
    this.writer = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "snakepit-forkserver-" + pool.name() + "-commands");
      t.setDaemon(true);
      return t;
    });
  }

  // ---- start and stop --------------------------------------------------------------------------

  /** Starts the forkserver; completes once it is ready to start workers, or fails with the reason. */
  Future<Void> start() {
    ready = Promise.promise();
    failure = null;
    PoolConfig c = pool.config();
    Path capture = logsDir.resolve(registryId.replace('@', '_') + ".log");
    context.<Process>executeBlocking(() -> {
      Files.createDirectories(logsDir);
      ProcessBuilder pb = new ProcessBuilder(List.of(python, "-m", "snakepit_worker.forkserver"));
      pb.environment().putAll(environment);
      if (c.workingDir() != null) {
        pb.directory(new File(c.workingDir()));
      }
      pb.redirectInput(ProcessBuilder.Redirect.PIPE);
      pb.redirectOutput(ProcessBuilder.Redirect.PIPE);
      pb.redirectError(ProcessBuilder.Redirect.appendTo(capture.toFile()));
      Process p = pb.start();
      registry.record(registryId, p.toHandle());
      return p;
    }, false).onComplete(ar -> {
      if (ar.failed()) {
        ready.tryFail(new ConfigException("pools." + c.name() + ".python: cannot run '" + python + "': "
            + ar.cause().getMessage()));
        return;
      }
      Process p = ar.result();
      process = p;
      commands = p.getOutputStream();
      Thread reader = new Thread(() -> readEvents(p), "snakepit-forkserver-" + c.name());
      reader.setDaemon(true);
      reader.start();
      p.onExit().thenAccept(done -> context.<String>executeBlocking(() -> {
        registry.remove(done.pid());
        return readTailAndDelete(capture);
      }, true).onComplete(tail -> onExit(p, done.exitValue(), tail.result())));
    });
    return ready.future();
  }

  /** Ends the forkserver, which ends whatever its workers left; completes once it has exited. */
  Future<Void> stop() {
    stopping = true;
    Process p = process;
    for (WorkerProcess w : waiting) {
      w.onExit(-1, "the pool stopped before the worker started");
    }
    waiting.clear();
    writer.shutdown();
    if (p == null) {
      return Future.succeededFuture();
    }
    OutputStream out = commands;
    return context.executeBlocking(() -> {
      // Commands already queued go first; then the end of input ends the forkserver.
      writer.awaitTermination(EXIT_GRACE_MS, TimeUnit.MILLISECONDS);
      try {
        out.close();
      } catch (IOException ignored) {
        // gone already
      }
      if (!p.waitFor(EXIT_GRACE_MS, TimeUnit.MILLISECONDS)) {
        LOG.warn("Forkserver of pool {} did not exit within {} ms of its stop; killing it", pool.name(),
            EXIT_GRACE_MS);
        p.destroyForcibly().waitFor();
      }
      return null;
    }, false).mapEmpty();
  }

  /** Starts with the interpreter {@code other} resolved (a reload's new forkserver skips the shim too). */
  void useInterpreterOf(Forkserver other) {
    if (other != null) {
      python = other.python;
    }
  }

  /**
   * A reload replaced this forkserver: it starts no more workers (the pool
   * launches on the new one) and stops once the last of its workers has
   * exited; completes then.
   */
  Future<Void> retireWhenIdle() {
    retiring = true;
    if (workers.isEmpty() && waiting.isEmpty()) {
      return stop();
    }
    return idle.future().compose(v -> stop());
  }

  private final Promise<Void> idle = Promise.promise();

  /**
   * Why the adapter (or the runtime) does not import under this forkserver,
   * as its ready event said, or null. A forkserver that cannot import the
   * adapter falls back to spawning, whose workers would then fail one by
   * one; a reload checks this before it touches any worker.
   */
  String importFailure() {
    if (readyEvent == null || !"spawn".equals(readyEvent.getString("mode"))) {
      return null;
    }
    String reason = readyEvent.getString("reason", "");
    return reason.contains("failed to import") ? reason : null;
  }

  // ---- workers ---------------------------------------------------------------------------------

  /** Starts a worker; its spawn and exit reach it through {@link WorkerProcess#onSpawned}, {@link WorkerProcess#onExit}. */
  void launch(WorkerProcess w) {
    if (readyEvent == null) {
      waiting.add(w);
      return;
    }
    workers.put(w.id(), w);
    send(new JsonObject().put("op", "start").put("id", w.id())
        .put("log", logsDir.resolve(w.id() + ".log").toString()));
  }

  private WorkerSignals signalsOf(String workerId) {
    return new WorkerSignals() {
      @Override
      public void terminate() {
        signal(workerId, 15);
      }

      @Override
      public void kill() {
        signal(workerId, 9);
      }
    };
  }

  private void signal(String workerId, int signal) {
    if (workers.containsKey(workerId)) {
      send(new JsonObject().put("op", "signal").put("id", workerId).put("signal", signal));
    }
  }

  private void send(JsonObject command) {
    OutputStream out = commands;
    if (out == null) {
      return;
    }
    byte[] line = (command.encode() + "\n").getBytes(StandardCharsets.UTF_8);
    try {
      writer.execute(() -> {
        try {
          out.write(line);
          out.flush();
        } catch (IOException e) {
          LOG.debug("Forkserver of pool {} did not take a command: {}", pool.name(), e.toString());
        }
      });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // stopping: the forkserver ends every worker anyway
    }
  }

  // ---- events ----------------------------------------------------------------------------------

  private void readEvents(Process p) {
    try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = in.readLine()) != null) {
        String text = line;
        context.runOnContext(v -> onEvent(text));
      }
    } catch (IOException e) {
      // the process ended; onExit says so
    }
  }

  private void onEvent(String line) {
    JsonObject e;
    try {
      e = new JsonObject(line);
    } catch (RuntimeException ex) {
      LOG.warn("Forkserver of pool {} wrote a line that is not an event: {}", pool.name(), line);
      return;
    }
    String id = e.getString("id");
    switch (e.getString("event", "")) {
      case "ready" -> onReady(e);
      case "failed" -> failure = e.getString("error");
      case "started" -> {
        WorkerProcess w = workers.get(id);
        long pid = e.getLong("pid", -1L);
        if (w != null) {
          context.executeBlocking(() -> {
            ProcessHandle.of(pid).ifPresent(h -> registry.record(id, h));
            return null;
          }, true);
          w.onSpawned(pid, e.getString("cgroup"), signalsOf(id));
        }
      }
      case "start_failed" -> {
        WorkerProcess w = workers.remove(id);
        if (w != null) {
          w.onExit(-1, e.getString("error", "could not start"));
        }
      }
      case "exited" -> {
        WorkerProcess w = workers.get(id);
        long pid = e.getLong("pid", -1L);
        Path capture = logsDir.resolve(id + ".log");
        context.<String>executeBlocking(() -> {
          registry.remove(pid);
          return readTailAndDelete(capture);
        }, true).onComplete(tail -> {
          workers.remove(id);
          if (w != null) {
            w.onExit(e.getInteger("status", -1), tail.result());
          }
          if (retiring && workers.isEmpty() && waiting.isEmpty()) {
            idle.tryComplete();
          }
        });
      }
      default -> LOG.warn("Forkserver of pool {} sent an unknown event: {}", pool.name(), line);
    }
  }

  private void onReady(JsonObject e) {
    readyEvent = e;
    lastCgroup = e.getString("cgroup");
    restartDelayMs = 0;
    if (!Path.of(python).isAbsolute()) {
      // Resolved once: later starts of the forkserver, and spawned workers, skip any shim.
      python = e.getString("python", python);
    }
    LOG.info("Pool {}: forkserver ready (pid {}, {}{}), Python {} at {}", pool.name(), e.getLong("pid"),
        e.getString("mode"), e.getString("reason", "").isEmpty() ? "" : ": " + e.getString("reason"),
        e.getString("version"), python);
    ready.tryComplete();
    List<WorkerProcess> queued = new ArrayList<>(waiting);
    waiting.clear();
    queued.forEach(this::launch);
  }

  private void onExit(Process p, int exitCode, String tail) {
    if (p != process) {
      return;
    }
    process = null;
    commands = null;
    boolean wasReady = readyEvent != null;
    readyEvent = null;
    String why = failure != null ? failure
        : "the forkserver exited (" + exitCode + ") before it was ready" + (tail.isBlank() ? "" : ":\n" + tail);
    if (!ready.future().isComplete()) {
      ready.fail(new ConfigException("pools." + pool.name() + ": " + why));
    }
    // Its workers died with it (PDEATHSIG); make sure, and let their slots restart them. With a pids cgroup,
    // what they started is ended too: nothing else is left to do it.
    String cgroup = lastCgroup;
    if (cgroup != null) {
      context.executeBlocking(() -> PidsCgroups.killAll(Path.of(cgroup)), false)
          .onSuccess(n -> {
            if (n > 0) {
              LOG.warn("Ended {} process(es) left in the cgroups of pool {} by its dead forkserver", n, pool.name());
            }
          });
    }
    for (WorkerProcess w : new ArrayList<>(workers.values())) {
      if (w.pid() > 0) {
        ProcessHandle.of(w.pid()).ifPresent(ProcessHandle::destroyForcibly);
      }
      w.onExit(137, "the pool's forkserver died (exit " + exitCode + ")");
    }
    workers.clear();
    if (retiring) {
      // A reload replaced it: its workers' slots restart on the new forkserver; it is not started again.
      idle.tryComplete();
    }
    if (stopping || retiring || pool.isStopping()) {
      return;
    }
    if (!wasReady) {
      for (WorkerProcess w : new ArrayList<>(waiting)) {
        w.onExit(-1, why);
      }
      waiting.clear();
    }
    LOG.error("Forkserver of pool {} died (exit {}); starting it again. Last output:\n{}", pool.name(), exitCode,
        tail);
    PoolConfig c = pool.config();
    restartDelayMs = Math.min(c.backoffMaxMs(), restartDelayMs == 0 ? c.backoffMinMs() : restartDelayMs * 2);
    pool.vertx().setTimer(restartDelayMs, t -> {
      if (!stopping && !pool.isStopping() && process == null) {
        start();
      }
    });
  }

  // ---- introspection ---------------------------------------------------------------------------

  /** The pool's interpreter as configured and as resolved, for {@code GET /v1/pools}. */
  JsonObject pythonJson() {
    return new JsonObject().put("configured", pool.config().python()).put("resolved", python)
        .put("version", readyEvent == null ? null : readyEvent.getString("version"));
  }

  /** The forkserver's state, for {@code GET /v1/pools}. */
  JsonObject toJson() {
    JsonObject out = new JsonObject().put("enabled", pool.config().forkserver())
        .put("preload", new JsonArray(new ArrayList<>(pool.config().preload())));
    if (readyEvent == null) {
      return out.put("state", "starting");
    }
    return out.put("state", "ready").put("pid", readyEvent.getLong("pid")).put("mode", readyEvent.getString("mode"))
        .put("reason", readyEvent.getString("reason")).put("cgroup", readyEvent.getString("cgroup"))
        .put("preloaded", readyEvent.getJsonArray("preloaded", new JsonArray()));
  }

  static String readTailAndDelete(Path file) {
    try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(file.toFile(), "r")) {
      long len = f.length();
      long from = Math.max(0, len - TAIL_BYTES);
      byte[] buf = new byte[(int) (len - from)];
      f.seek(from);
      f.readFully(buf);
      return new String(buf, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "";
    } finally {
      try {
        Files.deleteIfExists(file);
      } catch (IOException ignored) {
        // the run directory is removed at stop anyway
      }
    }
  }
}
