package io.snakepit.supervisor;

import io.vertx.core.Context;
import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Starts worker processes and reports their exits, keeping every blocking
 * step (spawn, disk) off the event loop. A worker's original stdout and stderr
 * go to a capture file: the worker forwards its output over the socket once
 * connected, so the file only holds what it wrote before connecting or while
 * crashing, which is reported when the process exits.
 */
final class ProcessLauncher {

  private static final int TAIL_BYTES = 8192;

  private final Context context;
  private final Path runDir;
  private final Path pythonRuntime;
  private final String endpoint;
  private final String token;
  private final String nodeId;
  private final WorkerRegistry registry;

  ProcessLauncher(Context context, Path runDir, Path pythonRuntime, String endpoint, String token, String nodeId,
                  WorkerRegistry registry) {
    this.context = context;
    this.runDir = runDir;
    this.pythonRuntime = pythonRuntime;
    this.endpoint = endpoint;
    this.token = token;
    this.nodeId = nodeId;
    this.registry = registry;
  }

  void launch(WorkerProcess w) {
    PoolConfig c = w.pool().config();
    Path capture = runDir.resolve("logs").resolve(w.id() + ".log");
    context.<Process>executeBlocking(() -> {
      Files.createDirectories(capture.getParent());
      ProcessBuilder pb = new ProcessBuilder(List.of(c.python(), "-m", "snakepit_worker"));
      Map<String, String> env = pb.environment();
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
      env.put("PYTHONPATH", String.join(File.pathSeparator, path));
      env.put("PYTHONDONTWRITEBYTECODE", "1");
      env.put("SNAKEPIT_ENDPOINT", endpoint);
      env.put("SNAKEPIT_TOKEN", token);
      env.put("SNAKEPIT_WORKER_ID", w.id());
      env.put("SNAKEPIT_NODE_ID", nodeId);
      env.put("SNAKEPIT_ADAPTER", c.adapter());
      env.put("SNAKEPIT_CONCURRENCY", Integer.toString(c.concurrency()));
      env.put("SNAKEPIT_PARENT_PID", Long.toString(ProcessHandle.current().pid()));
      if (c.workingDir() != null) {
        pb.directory(new File(c.workingDir()));
      }
      pb.redirectErrorStream(true);
      pb.redirectOutput(ProcessBuilder.Redirect.appendTo(capture.toFile()));
      pb.redirectInput(ProcessBuilder.Redirect.PIPE);
      Process p = pb.start();
      registry.record(w.id(), p.toHandle());
      return p;
    }, false).onComplete(ar -> {
      if (ar.failed()) {
        w.onExit(-1, "could not start '" + c.python() + "': " + ar.cause().getMessage());
        return;
      }
      Process p = ar.result();
      w.onSpawned(p);
      p.onExit().thenAccept(done -> context.<String>executeBlocking(() -> {
        registry.remove(done.pid());
        return readTailAndDelete(capture);
      }, false).onComplete(tail -> w.onExit(done.exitValue(), tail.result())));
    });
  }

  private static String readTailAndDelete(Path file) {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
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
