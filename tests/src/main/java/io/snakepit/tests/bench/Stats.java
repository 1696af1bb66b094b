package io.snakepit.tests.bench;

import java.util.Arrays;

/** Latency percentiles of one measured series, in microseconds. */
record Stats(double p50, double p99, double mean, int n) {

  static Stats of(long[] nanos) {
    long[] s = nanos.clone();
    Arrays.sort(s);
    double sum = 0;
    for (long v : s) {
      sum += v;
    }
    return new Stats(pct(s, 0.50), pct(s, 0.99), sum / s.length / 1000.0, s.length);
  }

  private static double pct(long[] sorted, double q) {
    int k = (int) Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))));
    return sorted[k] / 1000.0;
  }

  @Override
  public String toString() {
    return String.format("p50 %.1f us, p99 %.1f us, mean %.1f us (n=%d)", p50, p99, mean, n);
  }
}
