package io.snakepit.supervisor;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The node's private run directory (the workers' socket, the extracted Python runtime, the workers'
 * logs), and the record of it kept in the data dir, {@code <data-dir>/workers/run-dir}.
 *
 * <p>The run directory lives under the temp dir, not the data dir, because a Unix socket's path is
 * limited to 108 bytes. A node stopped cleanly deletes it; a node that was killed cannot, so the next
 * start on the same data dir removes the one its earlier run recorded. Something that kills a node and
 * never starts it again (a test harness, an operator cleaning a host) calls {@link #removeLeftover}
 * after the process is gone.
 *
 * <p>Every method blocks on disk I/O; call them off the event loop.
 */
public final class RunDirectory {

  /** The prefix of every run directory's name; nothing without it is ever deleted from the record. */
  static final String PREFIX = "snakepit-";

  private RunDirectory() {
  }

  /** Records {@code runDir} as this data dir's run directory; a data dir of {@code null} records nothing. */
  static void record(Path dataDir, Path runDir) throws IOException {
    if (dataDir == null) {
      return;
    }
    Path file = recordFile(dataDir);
    Files.createDirectories(file.getParent());
    Files.writeString(file, runDir.toAbsolutePath().toString(), StandardCharsets.UTF_8);
  }

  /** The run directory recorded in {@code dataDir}, if a node has recorded one there. */
  public static Optional<Path> recorded(Path dataDir) throws IOException {
    Path file = dataDir == null ? null : recordFile(dataDir);
    if (file == null || !Files.isRegularFile(file)) {
      return Optional.empty();
    }
    return Optional.of(Path.of(Files.readString(file, StandardCharsets.UTF_8).trim()));
  }

  /**
   * Deletes the run directory that an earlier run on {@code dataDir} recorded, if it is still there, and
   * the record. Call it only while no node runs on that data dir.
   *
   * @return the directory deleted, if there was one
   */
  public static Optional<Path> removeLeftover(Path dataDir) throws IOException {
    Optional<Path> dir = recorded(dataDir);
    if (dir.isEmpty()) {
      return dir;
    }
    Files.deleteIfExists(recordFile(dataDir));
    return delete(dir.get()) ? dir : Optional.empty();
  }

  /**
   * Deletes a run directory that a node no longer uses; returns whether there was one. A path whose
   * name a node would not have chosen is left alone, as the record is a file an operator could edit.
   */
  public static boolean delete(Path runDir) throws IOException {
    Path name = runDir.getFileName();
    if (name == null || !name.toString().startsWith(PREFIX) || !Files.isDirectory(runDir)) {
      return false;
    }
    deleteTree(runDir);
    return true;
  }

  /** Deletes {@code dir} and everything under it; a missing directory is not an error. */
  static void deleteTree(Path dir) throws IOException {
    if (dir == null || !Files.exists(dir)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
        Files.deleteIfExists(p);
      }
    }
  }

  private static Path recordFile(Path dataDir) {
    return dataDir.resolve("workers").resolve("run-dir");
  }
}
