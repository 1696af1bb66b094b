package io.snakepit.supervisor;

import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One small file per live worker and forkserver under {@code <data-dir>/workers/}: its pid,
 * the process's start instant and its command line. At start, a node ends
 * the workers an earlier run of itself left behind, and only those: a pid is
 * ended only when the process that holds it now started at the recorded
 * instant and runs {@code snakepit_worker}, so a reused pid is never killed.
 *
 * <p>All methods block on disk I/O; call them off the event loop.
 */
final class WorkerRegistry {

  private static final Logger LOG = LoggerFactory.getLogger(WorkerRegistry.class);
  private final Path dir;

  WorkerRegistry(Path dataDir) {
    this.dir = dataDir == null ? null : dataDir.resolve("workers");
  }

  void record(String workerId, ProcessHandle handle) {
    if (dir == null) {
      return;
    }
    Optional<Instant> start = handle.info().startInstant();
    JsonObject entry = new JsonObject().put("pid", handle.pid()).put("worker_id", workerId)
        .put("start", start.map(Instant::toString).orElse(null));
    try {
      Files.createDirectories(dir);
      Files.writeString(dir.resolve(handle.pid() + ".json"), entry.encode(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      LOG.warn("Could not record worker {} in {}: {}", workerId, dir, e.toString());
    }
  }

  void remove(long pid) {
    if (dir == null) {
      return;
    }
    try {
      Files.deleteIfExists(dir.resolve(pid + ".json"));
    } catch (IOException e) {
      LOG.warn("Could not remove worker record {}: {}", pid, e.toString());
    }
  }

  /** Ends leftovers of an earlier run and clears the registry; returns how many were ended. */
  int reapLeftovers() {
    if (dir == null || !Files.isDirectory(dir)) {
      return 0;
    }
    int reaped = 0;
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.json")) {
      for (Path f : files) {
        try {
          JsonObject entry = new JsonObject(Files.readString(f, StandardCharsets.UTF_8));
          long pid = entry.getLong("pid");
          String start = entry.getString("start");
          Optional<ProcessHandle> h = ProcessHandle.of(pid);
          if (h.isPresent() && isSameWorker(h.get(), start)) {
            LOG.warn("Ending worker {} (pid {}) left behind by an earlier run", entry.getString("worker_id"), pid);
            h.get().destroyForcibly();
            reaped++;
          }
        } catch (RuntimeException | IOException e) {
          LOG.warn("Ignoring unreadable worker record {}: {}", f, e.toString());
        }
        Files.deleteIfExists(f);
      }
    } catch (IOException e) {
      LOG.warn("Could not scan {} for leftover workers: {}", dir, e.toString());
    }
    return reaped;
  }

  private static boolean isSameWorker(ProcessHandle h, String recordedStart) {
    if (recordedStart == null) {
      return false;
    }
    Optional<Instant> start = h.info().startInstant();
    if (start.isEmpty() || !start.get().equals(Instant.parse(recordedStart))) {
      return false;
    }
    String cmd = h.info().commandLine().orElse("");
    return cmd.contains("snakepit_worker");
  }
}
