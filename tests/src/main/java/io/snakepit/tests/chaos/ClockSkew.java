package io.snakepit.tests.chaos;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A node's wall clock set off by some seconds, with Debian's libfaketime preloaded into its JVM and its
 * Python workers. Only the wall clock moves ({@code DONT_FAKE_MONOTONIC}): the monotonic clock, which
 * failure detection, leases and timeouts run on, stays true, as it does on a real machine whose clock is
 * wrong. What moves is what reads the wall clock: hybrid-clock stamps, TTLs and expiry, log times.
 */
final class ClockSkew {

  static final Path LIBRARY = Path.of("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1");

  private ClockSkew() {
  }

  /** Whether libfaketime is installed ({@code apt-get install faketime}). */
  static boolean available() {
    return Files.isReadable(LIBRARY);
  }

  /** The command prefix that starts a process with its wall clock {@code seconds} off; none for 0. */
  static List<String> prefix(long seconds) {
    if (seconds == 0) {
      return List.of();
    }
    return List.of("env", "LD_PRELOAD=" + LIBRARY, "FAKETIME=" + (seconds > 0 ? "+" : "") + seconds + "s",
        "DONT_FAKE_MONOTONIC=1");
  }
}
