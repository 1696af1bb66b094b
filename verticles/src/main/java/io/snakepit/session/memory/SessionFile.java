package io.snakepit.session.memory;

import io.snakepit.session.Session;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.h2.mvstore.MVMap;
import org.h2.mvstore.MVStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The memory adapter's file: every session's storage JSON in an H2 MVStore
 * map, written by one thread that commits writes in groups. A write's future
 * completes once its group is committed (and fsynced, in {@code sync} mode),
 * so that under {@code commit} or {@code sync} durability no acknowledged
 * write is lost when the node is killed.
 */
final class SessionFile implements AutoCloseable {

  /** How writes are made durable before they are acknowledged. */
  enum Durability {
    /** Ack after the write is committed to the file (in the OS); survives a crash of the node. */
    COMMIT,
    /** Ack after commit and fsync; survives a crash of the machine. */
    SYNC,
    /** Ack at once; written within the write-behind window. A crash loses that window. */
    WRITE_BEHIND
  }

  private static final Logger LOG = LoggerFactory.getLogger(SessionFile.class);

  private record Write(String id, Promise<Void> promise, Context context) {
  }

  private final java.util.function.Function<String, Session> current;
  private final MVStore store;
  private final MVMap<String, byte[]> map;
  private final Durability durability;
  private final long writeBehindMs;
  private final LinkedBlockingQueue<Write> queue = new LinkedBlockingQueue<>();
  private final Thread writer;
  private volatile boolean closing;

  /**
   * @param current the session as it is now in the heap (live or tombstone), or null when gone;
   *                the writer stores what this returns when it gets to an id, so the file always
   *                ends with the latest state however concurrent writes were queued
   */
  SessionFile(Path file, Durability durability, long writeBehindMs,
              java.util.function.Function<String, Session> current) throws java.io.IOException {
    this.current = current;
    Files.createDirectories(file.getParent());
    this.store = new MVStore.Builder().fileName(file.toString()).autoCommitDisabled().open();
    this.map = store.openMap("sessions");
    this.durability = durability;
    this.writeBehindMs = writeBehindMs;
    this.writer = new Thread(this::writeLoop, "snakepit-session-file");
    this.writer.setDaemon(true);
    this.writer.start();
  }

  /** Reads every stored session; blocking, for start-up. Unreadable entries are logged and skipped. */
  void loadAll(Consumer<Session> sink) {
    for (var e : map.entrySet()) {
      try {
        sink.accept(Session.fromStorageJson(new JsonObject(new String(e.getValue(), StandardCharsets.UTF_8))));
      } catch (RuntimeException ex) {
        LOG.warn("Skipping unreadable stored session {}: {}", e.getKey(), ex.getMessage());
      }
    }
  }

  /** Writes a session's current state (or its absence); completes when it is as durable as configured. */
  Future<Void> write(String id, Context context) {
    if (closing) {
      return Future.failedFuture(new IllegalStateException("the session file is closed"));
    }
    if (durability == Durability.WRITE_BEHIND) {
      queue.add(new Write(id, null, null));
      return Future.succeededFuture();
    }
    Promise<Void> p = Promise.promise();
    queue.add(new Write(id, p, context));
    return p.future();
  }

  private void writeLoop() {
    List<Write> batch = new ArrayList<>();
    while (true) {
      try {
        Write first = queue.poll(200, TimeUnit.MILLISECONDS);
        if (first == null) {
          if (closing) {
            return;
          }
          continue;
        }
        if (durability == Durability.WRITE_BEHIND && writeBehindMs > 0 && !closing) {
          // Let writes gather for the window, then commit them together.
          Thread.sleep(writeBehindMs);
        }
        batch.add(first);
        queue.drainTo(batch);
        for (Write w : batch) {
          Session s = current.apply(w.id);
          if (s == null) {
            map.remove(w.id);
          } else {
            map.put(w.id, s.toStorageJson().toBuffer().getBytes());
          }
        }
        store.commit();
        if (durability == Durability.SYNC) {
          store.sync();
        }
        complete(batch, null);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (RuntimeException e) {
        LOG.error("Writing sessions to disk failed", e);
        complete(batch, e);
      }
      batch.clear();
    }
  }

  private static void complete(List<Write> batch, Throwable failure) {
    for (Write w : batch) {
      if (w.promise != null) {
        Runnable r = failure == null ? w.promise::tryComplete : () -> w.promise.tryFail(failure);
        if (w.context != null) {
          w.context.runOnContext(v -> r.run());
        } else {
          r.run();
        }
      }
    }
  }

  /** Flushes what is queued, then closes the file. Blocking. */
  @Override
  public void close() {
    closing = true;
    try {
      writer.join(30_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    store.close();
  }
}
