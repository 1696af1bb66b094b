package io.snakepit.supervisor;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What a worker process uses, as the OS reports it: its resident memory
 * ({@link ProcessMemory}), the CPU time it has used ({@code utime + stime} in
 * {@code /proc/<pid>/stat}), and how many processes its pids cgroup refused
 * ({@code max} in {@code pids.events}). Blocking file I/O: read it off the
 * event loop. Any figure that cannot be read is -1.
 *
 * @param rssBytes         resident set size
 * @param cpuMillis        user plus system CPU time of the process
 * @param processesRefused forks and thread starts refused by the worker's pids cgroup since it started
 */
record ProcessUsage(long rssBytes, long cpuMillis, long processesRefused) {

  /** Clock ticks per second of {@code /proc/<pid>/stat}: USER_HZ, 100 on every Linux the JVM runs on. */
  private static final long TICKS_PER_SECOND = 100;

  /** Reads the usage of {@code pid}, and the refusals of its cgroup {@code cgroupDir} when not null. */
  static ProcessUsage read(long pid, String cgroupDir) {
    return new ProcessUsage(ProcessMemory.rssBytes(pid), cpuMillis(pid),
        cgroupDir == null ? -1 : processesRefused(Path.of(cgroupDir)));
  }

  /** User plus system CPU time of the process in milliseconds, or -1. */
  static long cpuMillis(long pid) {
    if (!ProcessMemory.SUPPORTED || pid <= 0) {
      return -1;
    }
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"), StandardCharsets.ISO_8859_1);
      // "pid (comm) state ppid ...": comm may hold spaces; utime and stime are fields 14 and 15.
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split("\\s+");
      long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
      return ticks * 1000 / TICKS_PER_SECOND;
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /** How many forks the cgroup refused ({@code max N} in {@code pids.events}), or -1. */
  static long processesRefused(Path cgroupDir) {
    try {
      for (String line : Files.readAllLines(cgroupDir.resolve("pids.events"), StandardCharsets.ISO_8859_1)) {
        if (line.startsWith("max ")) {
          return Long.parseLong(line.substring(4).trim());
        }
      }
    } catch (IOException | RuntimeException e) {
      // the worker and its cgroup are gone
    }
    return -1;
  }
}
