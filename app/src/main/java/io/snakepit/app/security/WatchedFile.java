package io.snakepit.app.security;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.file.FileProps;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A file the node reloads when it changes: polled every interval through Vert.x's asynchronous file system
 * (its modification time and size), so no event loop waits on the disk. A change hands the new contents to
 * {@code onChange}; when that throws (a half-edited or broken file), the error is logged and the previous
 * contents stay in force. Polling, not a file-system watch: it also sees a Kubernetes secret's symlink swap.
 */
final class WatchedFile {

  private static final Logger LOG = LoggerFactory.getLogger(WatchedFile.class);

  private final Vertx vertx;
  private final Path file;
  private final String what;
  private final Consumer<Buffer> onChange;
  private long timer = -1;
  private String seen = "";
  private boolean checking;

  WatchedFile(Vertx vertx, Path file, String what, Consumer<Buffer> onChange) {
    this.vertx = vertx;
    this.file = file;
    this.what = what;
    this.onChange = onChange;
  }

  /** Reads the file once (a failure fails the future: the node does not start) and then watches it. */
  Future<Void> start(long intervalMs) {
    return stamp().compose(s -> vertx.fileSystem().readFile(file.toString()).map(b -> {
      onChange.accept(b);
      seen = s;
      timer = vertx.setPeriodic(intervalMs, t -> check());
      return (Void) null;
    }));
  }

  void stop() {
    if (timer >= 0) {
      vertx.cancelTimer(timer);
    }
  }

  private Future<String> stamp() {
    // props follows symlinks, so a secret mounted through ..data links shows the target's time and size.
    return vertx.fileSystem().props(file.toString())
        .map((FileProps p) -> p.lastModifiedTime() + ":" + p.size());
  }

  private void check() {
    if (checking) {
      return;
    }
    checking = true;
    stamp().compose(s -> {
      if (s.equals(seen)) {
        return Future.succeededFuture();
      }
      return vertx.fileSystem().readFile(file.toString()).map(b -> {
        seen = s;
        try {
          onChange.accept(b);
          LOG.info("Reloaded {} from {}", what, file);
        } catch (RuntimeException e) {
          // The message names the problem, never the contents: a keys file or a key must not reach a log.
          LOG.warn("Kept the previous {}: {} changed but cannot be used: {}", what, file, e.getMessage());
        }
        return (Void) null;
      });
    }).onComplete(ar -> {
      checking = false;
      if (ar.failed()) {
        LOG.warn("Cannot read {} ({}); keeping the previous {}", file, ar.cause().getMessage(), what);
      }
    });
  }
}
