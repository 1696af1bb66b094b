package io.snakepit.session.sealing;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The key file and the ring read from it, read again when the file changes:
 * its modification time or size is checked every {@link #CHECK_MS} ms off the
 * event loop, so a key appended to the file becomes the active one within a
 * few seconds, with no restart. A file that no longer parses keeps the ring in
 * use and is logged (never with a key).
 */
public final class DataKeyFile implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(DataKeyFile.class);
  /** How often the file is checked for a change. */
  public static final long CHECK_MS = 2000;

  private final Vertx vertx;
  private final Path file;
  private final AtomicReference<DataKeyRing> ring = new AtomicReference<>();
  private volatile String seen;
  private long timer = -1;

  private DataKeyFile(Vertx vertx, Path file) {
    this.vertx = vertx;
    this.file = file;
  }

  /** Reads the file (off the event loop) and starts watching it; fails naming what is wrong with the file. */
  public static Future<DataKeyFile> open(Vertx vertx, Path file) {
    DataKeyFile f = new DataKeyFile(vertx, file);
    return vertx.executeBlocking(() -> {
      String problem = DataKeyRing.permissionProblem(file);
      if (problem != null) {
        LOG.warn("{}", problem);
      }
      f.seen = stamp(file);
      f.ring.set(DataKeyRing.load(file));
      return f;
    }, false).onSuccess(k -> {
      LOG.info("Session data encryption on: {}", k.ring.get());
      k.timer = vertx.setPeriodic(CHECK_MS, t -> k.check());
    });
  }

  /** The ring in use now. */
  public DataKeyRing ring() {
    return ring.get();
  }

  /** The key file's path. */
  public Path path() {
    return file;
  }

  /** Reads the file again now if it changed (off the event loop); completes with the ring in use after. */
  public Future<DataKeyRing> refresh() {
    return vertx.executeBlocking(() -> {
      String now = stamp(file);
      if (!now.equals(seen)) {
        seen = now;
        DataKeyRing next = DataKeyRing.load(file);
        DataKeyRing before = ring.getAndSet(next);
        LOG.info("Data-key file {} changed: {} (was active {})", file, next, before.activeId());
      }
      return ring.get();
    }, false);
  }

  private void check() {
    refresh().onFailure(e -> LOG.error("Data-key file {} changed but cannot be used; the keys read before stay "
        + "in use: {}", file, e.getMessage()));
  }

  private static String stamp(Path file) throws IOException {
    FileTime t = Files.getLastModifiedTime(file);
    return t.toMillis() + "/" + Files.size(file);
  }

  @Override
  public void close() {
    vertx.cancelTimer(timer);
  }
}
