package io.snakepit.supervisor;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Names one run of a supervisor, the last part of its worker ids
 * ({@code default-0.0@m3x9k2fq}). A node restarted with the same node id
 * counts its slots' generations from 0 again; without this, its new workers
 * would take the ids of the old ones, and a session's record that its state
 * lives in {@code default-0.0} would point at a process that never held it.
 */
final class Incarnation {

  private static final AtomicLong LAST = new AtomicLong();

  private Incarnation() {
  }

  /**
   * The current time in milliseconds, in base 36: short, and later for each
   * restart of a node. Two supervisors made within the same millisecond in
   * one JVM (tests, embedding) get successive values instead.
   */
  static String next() {
    long now = System.currentTimeMillis();
    return Long.toString(LAST.updateAndGet(last -> Math.max(last + 1, now)), 36);
  }
}
