package io.snakepit.app.security;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.file.AsyncFile;
import io.vertx.core.file.OpenOptions;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.time.Instant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The audit log: one JSON object per line, appended to its own file, apart from the application log, so it can
 * be kept, shipped and protected on its own terms. A line says what happened ({@code event}), who did it
 * ({@code principal}), to what ({@code target}), how it ended ({@code outcome}), the request's
 * {@code correlation_id} and the client's address. Tokens and keys never appear: a principal is named by its
 * key's name or its token's subject. The events are listed in docs/security.md.
 */
public final class AuditLog {

  private static final Logger LOG = LoggerFactory.getLogger(AuditLog.class);

  /** An audit log that records nothing: {@code security.audit-log: off}, and embedded APIs without one. */
  public static final AuditLog OFF = new AuditLog(null, null, null);

  private final AsyncFile file;
  private final String nodeId;
  private final Path path;

  private AuditLog(AsyncFile file, String nodeId, Path path) {
    this.file = file;
    this.nodeId = nodeId;
    this.path = path;
  }

  /** Opens (creating, appending to) the audit log at {@code path}; {@code null} gives {@link #OFF}. */
  public static Future<AuditLog> open(Vertx vertx, Path path, String nodeId) {
    if (path == null) {
      return Future.succeededFuture(OFF);
    }
    Path dir = path.toAbsolutePath().getParent();
    return vertx.fileSystem().mkdirs(dir.toString())
        .compose(v -> vertx.fileSystem().open(path.toString(), new OpenOptions().setAppend(true).setCreate(true)
            .setWrite(true).setPerms("rw-------")))
        .map(f -> new AuditLog(f, nodeId, path));
  }

  /** Where the log is written, or null when it is off. */
  public Path path() {
    return path;
  }

  /**
   * Appends one event. Never fails its caller: a write the disk refuses is reported in the application log.
   *
   * @param event         what happened, e.g. {@code session.delete}
   * @param principal     who did it, or null when nobody authenticated
   * @param correlationId the request's correlation id, or null
   * @param target        what it was done to (a session id, a pool, a file), or null
   * @param outcome       {@code ok}, or the error code that ended it
   * @param extra         more fields, or null
   */
  public void record(String event, Principal principal, String correlationId, String target, String outcome,
      JsonObject extra) {
    if (file == null) {
      return;
    }
    JsonObject line = new JsonObject().put("ts", Instant.now().toString()).put("node", nodeId).put("event", event);
    if (principal != null) {
      line.put("principal", principal.name()).put("role", principal.role().wireName());
    }
    if (correlationId != null) {
      line.put("correlation_id", correlationId);
    }
    if (target != null) {
      line.put("target", target);
    }
    line.put("outcome", outcome);
    if (extra != null) {
      extra.forEach(e -> line.put(e.getKey(), e.getValue()));
    }
    Buffer b = Buffer.buffer(line.encode()).appendString("\n");
    // AsyncFile keeps the order of writes; one lock keeps lines whole when two event loops write at once.
    synchronized (this) {
      file.write(b).onFailure(t -> LOG.error("Cannot append to the audit log {}: {}", path, t.getMessage()));
    }
  }

  /** Flushes and closes the file. */
  public Future<Void> close() {
    return file == null ? Future.succeededFuture() : file.flush().compose(v -> file.close());
  }
}
