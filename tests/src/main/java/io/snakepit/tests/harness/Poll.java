package io.snakepit.tests.harness;

import java.time.Duration;
import java.util.concurrent.Callable;

/** Polls a condition until a deadline: how system tests wait, never with a bare sleep. */
public final class Poll {

  private Poll() {
  }

  public static void until(String what, Duration deadline, Callable<Boolean> condition) throws Exception {
    long end = System.nanoTime() + deadline.toNanos();
    Exception last = null;
    while (System.nanoTime() < end) {
      try {
        if (Boolean.TRUE.equals(condition.call())) {
          return;
        }
      } catch (Exception e) {
        last = e;
      }
      Thread.sleep(25);
    }
    throw new AssertionError("timed out after " + deadline + " waiting for: " + what
        + (last != null ? " (last error: " + last + ")" : ""));
  }

  /**
   * Whether a process runs. A zombie counts as dead: an orphan whose reaper
   * (PID 1 in a container) has not collected it yet has already exited.
   */
  public static boolean alive(long pid) {
    try {
      String stat = java.nio.file.Files.readString(java.nio.file.Path.of("/proc", Long.toString(pid), "stat"));
      // The state letter follows the command, which is in parentheses and may contain spaces.
      char state = stat.charAt(stat.lastIndexOf(')') + 2);
      return state != 'Z' && state != 'X';
    } catch (java.io.IOException e) {
      return false;
    }
  }
}
