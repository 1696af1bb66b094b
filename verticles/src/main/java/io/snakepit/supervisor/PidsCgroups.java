package io.snakepit.supervisor;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The node's side of a pool's pids cgroups (the forkserver makes them, one
 * per worker under one per pool): when a forkserver dies without ending what
 * its workers started, the node ends every process left in them. Blocking
 * file I/O: call it off the event loop.
 */
final class PidsCgroups {

  private PidsCgroups() {
  }

  /** SIGKILLs every process in the worker cgroups under {@code poolCgroup}; returns how many. */
  static int killAll(Path poolCgroup) {
    int killed = 0;
    if (!Files.isDirectory(poolCgroup)) {
      return 0;
    }
    try (DirectoryStream<Path> workers = Files.newDirectoryStream(poolCgroup, Files::isDirectory)) {
      for (Path worker : workers) {
        killed += killIn(worker);
      }
    } catch (IOException e) {
      // the cgroups went away meanwhile
    }
    return killed + killIn(poolCgroup);
  }

  private static int killIn(Path cgroup) {
    int killed = 0;
    try {
      for (String line : Files.readAllLines(cgroup.resolve("cgroup.procs"), StandardCharsets.ISO_8859_1)) {
        if (!line.isBlank() && ProcessHandle.of(Long.parseLong(line.trim())).map(ProcessHandle::destroyForcibly)
            .orElse(false)) {
          killed++;
        }
      }
    } catch (IOException | RuntimeException e) {
      // gone meanwhile
    }
    return killed;
  }
}
