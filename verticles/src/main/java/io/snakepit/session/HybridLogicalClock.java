package io.snakepit.session;

/**
 * A hybrid logical clock (Kulkarni et al., 2014): timestamps that follow
 * wall-clock time but never go backwards and always exceed every timestamp
 * this node has seen, so that "later" means the same thing on every node even
 * when their clocks disagree a little.
 *
 * <p>A timestamp packs milliseconds since the epoch in the high 48 bits and a
 * logical counter in the low 16, so timestamps compare as plain longs.
 * Thread-safe.
 */
public final class HybridLogicalClock {

  private static final int LOGICAL_BITS = 16;
  private static final long LOGICAL_MASK = (1L << LOGICAL_BITS) - 1;

  private final java.util.function.LongSupplier wallClock;
  private long last;

  public HybridLogicalClock() {
    this(System::currentTimeMillis);
  }

  /** For tests: a clock driven by the given wall clock. */
  public HybridLogicalClock(java.util.function.LongSupplier wallClock) {
    this.wallClock = wallClock;
  }

  /** A new timestamp for a local event, greater than every one before it. */
  public synchronized long now() {
    long wall = wallClock.getAsLong() << LOGICAL_BITS;
    last = wall > last ? wall : last + 1;
    return last;
  }

  /** Takes in a timestamp seen from elsewhere, so that later local ones exceed it. */
  public synchronized long observe(long remote) {
    long wall = wallClock.getAsLong() << LOGICAL_BITS;
    long max = Math.max(wall, Math.max(last, remote));
    last = max == wall && wall > last && wall > remote ? wall : max + 1;
    return last;
  }

  /** The wall-clock milliseconds of a timestamp. */
  public static long millis(long hlc) {
    return hlc >>> LOGICAL_BITS;
  }

  /** The logical counter of a timestamp. */
  public static int logical(long hlc) {
    return (int) (hlc & LOGICAL_MASK);
  }

  /** A timestamp for a wall-clock instant, with counter 0. */
  public static long of(long millis, int logical) {
    return (millis << LOGICAL_BITS) | (logical & LOGICAL_MASK);
  }
}
