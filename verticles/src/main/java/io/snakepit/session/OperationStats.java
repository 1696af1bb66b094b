package io.snakepit.session;

import io.vertx.core.json.JsonObject;

/**
 * Latency and error figures of the session store's operations over a sliding
 * window (the last {@link #WINDOW_S} seconds, in {@link #SLICES} slices), for
 * {@code /health/sessions}. Latencies go into fixed logarithmic buckets, so the
 * memory used is constant whatever the load; a percentile is reported as the
 * upper bound of its bucket (at most 19% above the true value).
 *
 * <p>Thread-safe; recording takes an uncontended lock.
 */
public final class OperationStats {

  /** The length of the window. */
  public static final int WINDOW_S = 60;
  static final int SLICES = 6;
  private static final long SLICE_NANOS = WINDOW_S * 1_000_000_000L / SLICES;
  /** Bucket i holds latencies up to {@code BASE_NANOS * GROWTH^i}; the last one holds everything above. */
  private static final double BASE_NANOS = 1000;
  private static final double GROWTH = 1.1892; // 2^(1/4)
  private static final int BUCKETS = 100; // up to about 1000 s

  private final long[][] buckets = new long[SLICES][BUCKETS];
  private final long[] ops = new long[SLICES];
  private final long[] errors = new long[SLICES];
  private final long[] sliceStart = new long[SLICES];
  private final Clock clock;

  /** Nanosecond time source; replaceable in tests. */
  public interface Clock {
    long nanoTime();
  }

  public OperationStats() {
    this(System::nanoTime);
  }

  public OperationStats(Clock clock) {
    this.clock = clock;
    long now = clock.nanoTime();
    for (int i = 0; i < SLICES; i++) {
      sliceStart[i] = Long.MIN_VALUE;
    }
    sliceStart[slice(now)] = sliceBase(now);
  }

  /**
   * Records one operation.
   *
   * @param nanos how long it took
   * @param error whether it failed on the store's side (not a caller's mistake such as a missing session)
   */
  public synchronized void record(long nanos, boolean error) {
    long now = clock.nanoTime();
    int s = current(now);
    buckets[s][bucket(nanos)]++;
    ops[s]++;
    if (error) {
      errors[s]++;
    }
  }

  /**
   * {@code {"window_s", "operations", "errors", "error_rate", "p50_ms", "p99_ms"}} over the window;
   * the percentiles are null when there was no operation.
   */
  public synchronized JsonObject snapshot() {
    long now = clock.nanoTime();
    current(now);
    long total = 0;
    long failed = 0;
    long[] merged = new long[BUCKETS];
    long oldest = sliceBase(now) - (SLICES - 1) * SLICE_NANOS;
    for (int s = 0; s < SLICES; s++) {
      if (sliceStart[s] == Long.MIN_VALUE || sliceStart[s] < oldest) {
        continue;
      }
      total += ops[s];
      failed += errors[s];
      for (int b = 0; b < BUCKETS; b++) {
        merged[b] += buckets[s][b];
      }
    }
    JsonObject out = new JsonObject().put("window_s", WINDOW_S).put("operations", total).put("errors", failed)
        .put("error_rate", total == 0 ? 0.0 : (double) failed / total);
    out.put("p50_ms", percentileMs(merged, total, 0.50));
    out.put("p99_ms", percentileMs(merged, total, 0.99));
    return out;
  }

  private static Double percentileMs(long[] merged, long total, double q) {
    if (total == 0) {
      return null;
    }
    long rank = (long) Math.ceil(q * total);
    long seen = 0;
    for (int b = 0; b < BUCKETS; b++) {
      seen += merged[b];
      if (seen >= rank) {
        return upperBoundNanos(b) / 1e6;
      }
    }
    return upperBoundNanos(BUCKETS - 1) / 1e6;
  }

  static double upperBoundNanos(int bucket) {
    return BASE_NANOS * Math.pow(GROWTH, bucket);
  }

  static int bucket(long nanos) {
    if (nanos <= BASE_NANOS) {
      return 0;
    }
    int b = (int) Math.ceil(Math.log(nanos / BASE_NANOS) / Math.log(GROWTH));
    // Guard against rounding: the bucket's bound must cover the value.
    while (b < BUCKETS - 1 && upperBoundNanos(b) < nanos) {
      b++;
    }
    return Math.min(b, BUCKETS - 1);
  }

  private static int slice(long now) {
    return (int) Math.floorMod(Math.floorDiv(now, SLICE_NANOS), (long) SLICES);
  }

  private static long sliceBase(long now) {
    return Math.floorDiv(now, SLICE_NANOS) * SLICE_NANOS;
  }

  /** The slice for now, cleared first if it last held an older period. */
  private int current(long now) {
    int s = slice(now);
    long base = sliceBase(now);
    if (sliceStart[s] != base) {
      sliceStart[s] = base;
      ops[s] = 0;
      errors[s] = 0;
      java.util.Arrays.fill(buckets[s], 0);
    }
    return s;
  }
}
