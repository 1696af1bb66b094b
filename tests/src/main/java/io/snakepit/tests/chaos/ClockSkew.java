package io.snakepit.tests.chaos;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A node's wall clock set off by some seconds, with Debian's libfaketime preloaded into its JVM. Only the
 * JVM ({@code FAKETIME_ONLY_CMDS=java}): under libfaketime Python's {@code time.sleep} fails with EINVAL, so
 * the workers, which inherit the preload, keep the true time. Only the wall clock moves ({@code DONT_FAKE_MONOTONIC}): the monotonic clock, which
 * failure detection, leases and timeouts run on, stays true, as it does on a real machine whose clock is
 * wrong. What moves is what reads the wall clock: hybrid-clock stamps, TTLs and expiry, log times.
 *
 * <p>{@code FAKETIME_FORCE_MONOTONIC_FIX=0}: with libfaketime 0.9.10's default, the JVM's timed waits (on
 * {@code CLOCK_MONOTONIC} condition variables) overran, and a clustered node took 41 s instead of 10 s to
 * start, its event loops blocked for seconds at a time; with the fix off it starts in 6 s and never blocks.
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
        "DONT_FAKE_MONOTONIC=1", "FAKETIME_FORCE_MONOTONIC_FIX=0", "FAKETIME_ONLY_CMDS=java");
  }
}
