package io.snakepit.session.migration;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * The file that holds a node's {@link MigrationState}: written whole to a temporary file, forced to disk,
 * renamed over the old one and the directory forced, so that a crash leaves either the old state or the new one,
 * never a torn one. All file work runs off the event loop.
 */
public final class MigrationStateFile {

  private final Vertx vertx;
  private final Path file;

  /** The state file in {@code <dataDir>/migration}. */
  public MigrationStateFile(Vertx vertx, Path dataDir) {
    this.vertx = vertx;
    this.file = dataDir.resolve("migration").resolve("state.json");
  }

  /** Where it is. */
  public Path path() {
    return file;
  }

  /** The state; null when there is no file (no migration ever started here). */
  public Future<MigrationState> read() {
    return vertx.executeBlocking(() -> {
      if (!Files.exists(file)) {
        return null;
      }
      String text = Files.readString(file, StandardCharsets.UTF_8);
      try {
        return MigrationState.fromJson(new JsonObject(text));
      } catch (RuntimeException e) {
        throw new IOException("The migration state file " + file + " is not readable (" + e.getMessage()
            + "); restore it, or remove it to start the node on sessions.adapter alone", e);
      }
    }, false);
  }

  /** Writes the state atomically and durably. */
  public Future<Void> write(MigrationState state) {
    byte[] bytes = state.toJson().encodePrettily().getBytes(StandardCharsets.UTF_8);
    return vertx.executeBlocking(() -> {
      // One writer at a time: the temporary file is shared.
      synchronized (this) {
        Path dir = file.getParent();
        Files.createDirectories(dir);
        Path tmp = dir.resolve("state.json.tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING)) {
          ByteBuffer buf = ByteBuffer.wrap(bytes);
          while (buf.hasRemaining()) {
            ch.write(buf);
          }
          ch.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
          d.force(true);
        } catch (IOException e) {
          // Some file systems cannot open a directory to force it; the rename is then as durable as they make it.
        }
      }
      return null;
    }, false);
  }
}
