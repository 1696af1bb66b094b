package io.snakepit.supervisor;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads a process's resident set size from the OS ({@code VmRSS} in
 * {@code /proc/<pid>/status}), so that {@code max-rss-mb} does not depend on
 * what the worker says about itself: a worker whose user code replaced or broke
 * its reporting, or that is too busy to measure, is still measured. Blocking
 * file I/O: call it off the event loop.
 */
final class ProcessMemory {

  /** Whether this OS has {@code /proc/<pid>/status}; elsewhere the node uses the RSS a worker reports in PONG. */
  static final boolean SUPPORTED = Files.isReadable(Path.of("/proc/self/status"));

  private ProcessMemory() {
  }

  /** The process's RSS in bytes, or -1 when it cannot be read (no /proc, process gone, or a zombie). */
  static long rssBytes(long pid) {
    if (!SUPPORTED || pid <= 0) {
      return -1;
    }
    try {
      for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"),
          StandardCharsets.ISO_8859_1)) {
        if (line.startsWith("VmRSS:")) {
          // "VmRSS:	   13516 kB": the kernel's unit is KiB.
          String[] f = line.substring(6).trim().split("\\s+");
          return Long.parseLong(f[0]) * 1024;
        }
      }
    } catch (IOException | RuntimeException e) {
      // gone between the listing and the read
    }
    return -1;
  }
}
