package io.snakepit.app.dashboard;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.distribution.CountAtBucket;
import io.micrometer.core.instrument.distribution.HistogramSnapshot;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * The calls of each pool of this node over a sliding window, from the {@code snakepit.call.duration} timers the
 * supervisor records (docs/operations.md): how many calls ended and how their latencies fall into the timers'
 * buckets, between the oldest sample of the window and now.
 *
 * <p>Why samples and not a timer of its own: the node's Prometheus meters are the figures operators already
 * trust, and reading them costs nothing while nobody watches. A sample is taken each time a dashboard asks
 * (about once a second per watching node), and the window is the last {@link #WINDOW_MS} of them; the first
 * ask has no window yet ({@code window_ms} 0).
 *
 * <p>Not thread-safe: used from its verticle's context only.
 */
final class PoolLatencyWindow {

  /** How far back the window reaches: long enough for a steady p99, short enough to follow a change. */
  static final long WINDOW_MS = 10_000;
  static final String TIMER = "snakepit.call.duration";

  /** One reading of a pool's timers: when, how many calls ever, and how many at or under each bound (ms). */
  private record Sample(long nanos, long count, TreeMap<Double, Long> cumulative) {
  }

  private final MeterRegistry registry;
  private final Map<String, Deque<Sample>> samples = new HashMap<>();

  PoolLatencyWindow(MeterRegistry registry) {
    this.registry = registry;
  }

  /**
   * Samples every pool's timers now and answers, per pool, {@code {"calls", "window_ms", "latency_buckets":
   * [{"le_ms", "count"}...]}} over the window: calls ended within it, and the cumulative count at or under each
   * bucket bound. Pools with no call yet have no timer and are left out.
   */
  Map<String, JsonObject> sample(long nowNanos) {
    Map<String, Sample> now = read(nowNanos);
    samples.keySet().retainAll(now.keySet());
    Map<String, JsonObject> out = new HashMap<>();
    for (Map.Entry<String, Sample> e : now.entrySet()) {
      Deque<Sample> window = samples.computeIfAbsent(e.getKey(), k -> new ArrayDeque<>());
      window.addLast(e.getValue());
      long oldest = nowNanos - TimeUnit.MILLISECONDS.toNanos(WINDOW_MS);
      // Keep the newest sample at or before the window's start as the base: the window then spans it whole.
      while (window.size() > 2 && secondOf(window).nanos() <= oldest) {
        window.removeFirst();
      }
      Sample base = window.peekFirst();
      Sample last = e.getValue();
      JsonArray buckets = new JsonArray();
      for (Map.Entry<Double, Long> b : last.cumulative().entrySet()) {
        long before = base == last ? b.getValue() : base.cumulative().getOrDefault(b.getKey(), 0L);
        buckets.add(new JsonObject().put("le_ms", b.getKey()).put("count", b.getValue() - before));
      }
      out.put(e.getKey(), new JsonObject().put("calls", last.count() - base.count())
          .put("window_ms", TimeUnit.NANOSECONDS.toMillis(last.nanos() - base.nanos()))
          .put("latency_buckets", buckets));
    }
    return out;
  }

  private static Sample secondOf(Deque<Sample> window) {
    var it = window.iterator();
    it.next();
    return it.next();
  }

  /** Sums the timers of each pool (one per tool and outcome). */
  private Map<String, Sample> read(long nowNanos) {
    Map<String, long[]> counts = new HashMap<>();
    Map<String, TreeMap<Double, Long>> cumulative = new HashMap<>();
    for (Timer t : registry.find(TIMER).timers()) {
      String pool = t.getId().getTag("pool");
      if (pool == null) {
        continue;
      }
      HistogramSnapshot snapshot = t.takeSnapshot();
      counts.computeIfAbsent(pool, k -> new long[1])[0] += snapshot.count();
      TreeMap<Double, Long> sums = cumulative.computeIfAbsent(pool, k -> new TreeMap<>());
      for (CountAtBucket b : snapshot.histogramCounts()) {
        sums.merge(b.bucket(TimeUnit.MILLISECONDS), (long) b.count(), Long::sum);
      }
    }
    Map<String, Sample> out = new HashMap<>();
    counts.forEach((pool, n) -> out.put(pool, new Sample(nowNanos, n[0], cumulative.get(pool))));
    return out;
  }

  /**
   * The 99th percentile, in milliseconds, of calls counted in cumulative buckets {@code [{"le_ms", "count"}]}
   * ({@code calls} in all, some perhaps above the last bound), interpolated within its bucket as Prometheus'
   * {@code histogram_quantile} does; null without calls. Above the last bound it is that bound.
   */
  static Double p99(long calls, Map<Double, Long> cumulative) {
    if (calls <= 0) {
      return null;
    }
    double rank = 0.99 * calls;
    double lower = 0;
    long below = 0;
    for (Map.Entry<Double, Long> b : new TreeMap<>(cumulative).entrySet()) {
      if (b.getValue() >= rank) {
        long inBucket = b.getValue() - below;
        double fraction = inBucket == 0 ? 1 : (rank - below) / inBucket;
        return lower + (b.getKey() - lower) * fraction;
      }
      lower = b.getKey();
      below = b.getValue();
    }
    return lower;
  }
}
