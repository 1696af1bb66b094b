package io.snakepit.tests.chaos;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Each node's data dir on a small tmpfs of its own (root only), so that a nemesis can fill one up: a
 * filler file is written until the disk refuses more, held, then removed. What a node writes there in a
 * cluster: its worker registry (a file per worker it starts, which containment needs), its node id, and
 * in these runs its log.
 */
final class NodeDisks implements AutoCloseable {

  static final String FILLER = "chaos-filler";
  private static final String SIZE = "64m";

  private final List<Path> mounted = new ArrayList<>();

  /** Mounts a tmpfs at each of {@code dirs}, creating them. */
  static NodeDisks mount(List<Path> dirs) throws IOException, InterruptedException {
    NodeDisks d = new NodeDisks();
    try {
      for (Path dir : dirs) {
        Files.createDirectories(dir);
        run("mount", "-t", "tmpfs", "-o", "size=" + SIZE + ",mode=0755", "chaos-disk", dir.toString());
        d.mounted.add(dir);
      }
    } catch (IOException | RuntimeException e) {
      d.close();
      throw e;
    }
    return d;
  }

  /** Writes a filler file into {@code dir} until the disk is full; returns the bytes it took. */
  static long fill(Path dir) throws IOException {
    long written = 0;
    byte[] block = new byte[1 << 20];
    try (OutputStream out = Files.newOutputStream(dir.resolve(FILLER))) {
      while (true) {
        out.write(block);
        written += block.length;
      }
    } catch (IOException full) {
      // "No space left on device": the point. Whatever the last write left partly written stays.
      return written;
    }
  }

  /** Removes the filler from {@code dir}: the disk has room again. */
  static void free(Path dir) throws IOException {
    Files.deleteIfExists(dir.resolve(FILLER));
  }

  @Override
  public void close() {
    for (Path dir : mounted) {
      try {
        run("umount", "-l", dir.toString());
      } catch (IOException | InterruptedException e) {
        System.err.println("chaos: could not unmount " + dir + ": " + e.getMessage());
      }
    }
    mounted.clear();
  }

  private static void run(String... cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (p.waitFor() != 0) {
      throw new IOException(String.join(" ", cmd) + " failed: " + out.strip());
    }
  }
}
