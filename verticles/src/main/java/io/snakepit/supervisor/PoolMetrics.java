package io.snakepit.supervisor;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * The meters of one pool (names and tags are documented in docs/operations.md).
 * Recorded on the supervisor's event loop; the gauges read plain snapshots that
 * the pool refreshes there, so a scrape from another thread never walks the
 * pool's own structures.
 *
 * <p>Tag values are bounded: {@code tool} is one of the tools the pool's adapter
 * declared, or {@code unknown}; {@code outcome} is {@code ok} or an error code.
 */
public final class PoolMetrics {

  /** The value of the {@code tool} tag for names the adapter did not declare. */
  public static final String UNKNOWN_TOOL = "unknown";
  /** The value of the {@code outcome} tag for a call that succeeded. */
  public static final String OK = "ok";

  /** Bucket bounds of the call-latency histogram: enough resolution from 0.5 ms to a minute, few series. */
  static final Duration[] CALL_BUCKETS = {
      Duration.ofNanos(500_000), Duration.ofMillis(1), Duration.ofMillis(2), Duration.ofMillis(5),
      Duration.ofMillis(10), Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100),
      Duration.ofMillis(250), Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofMillis(2500),
      Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(30), Duration.ofSeconds(60)};

  private final MeterRegistry registry;
  private final String pool;
  private final Counter restarts;
  private final Counter recycles;
  private final Counter crashes;
  private final AtomicIntegerArray states = new AtomicIntegerArray(WorkerState.values().length);
  private volatile int queueDepth;
  private volatile int degraded;
  private Set<String> tools = Set.of();
  private JsonArray toolsSource;
  private final Map<String, Timer> timers = new HashMap<>();
  private final List<Meter> meters = new CopyOnWriteArrayList<>();

  PoolMetrics(MeterRegistry registry, String pool) {
    this.registry = registry;
    this.pool = pool;
    Tags tags = Tags.of("pool", pool);
    restarts = keep(Counter.builder("snakepit.worker.restarts").tags(tags)
        .description("Workers started again in a slot whose worker died").register(registry));
    recycles = keep(Counter.builder("snakepit.worker.recycles").tags(tags)
        .description("Workers replaced after max-requests, max-rss-mb or max-age-s").register(registry));
    crashes = keep(Counter.builder("snakepit.worker.crashes").tags(tags)
        .description("Workers that died, failed to start or were killed as hung").register(registry));
    keep(Gauge.builder("snakepit.pool.queue.depth", this, m -> m.queueDepth).tags(tags)
        .description("Calls waiting for a free worker").register(registry));
    keep(Gauge.builder("snakepit.pool.degraded", this, m -> m.degraded).tags(tags)
        .description("1 while the pool is degraded (its workers keep failing), else 0").register(registry));
    for (WorkerState s : WorkerState.values()) {
      int i = s.ordinal();
      keep(Gauge.builder("snakepit.workers", states, a -> a.get(i)).tags(tags.and("state", s.name().toLowerCase()))
          .description("Worker processes by state").register(registry));
    }
  }

  /** A finished call: its latency from submission to answer, by tool and outcome. */
  void callDone(String tool, String outcome, long nanos) {
    String t = tool != null && tools.contains(tool) ? tool : UNKNOWN_TOOL;
    String key = t + '|' + outcome;
    Timer timer = timers.get(key);
    if (timer == null) {
      timer = Timer.builder("snakepit.call.duration")
          .tags("pool", pool, "tool", t, "outcome", outcome)
          .description("Latency of calls, from submission to the pool until the answer (or the end of a stream)")
          .serviceLevelObjectives(CALL_BUCKETS)
          .register(registry);
      keep(timer);
      timers.put(key, timer);
    }
    timer.record(nanos, TimeUnit.NANOSECONDS);
  }

  /** The tools the adapter declared; only these names become {@code tool} tags. */
  void tools(JsonArray declared) {
    if (declared == toolsSource || declared == null) {
      return;
    }
    toolsSource = declared;
    Set<String> names = new HashSet<>();
    for (Object o : declared) {
      if (o instanceof JsonObject j && j.getString("name") != null) {
        names.add(j.getString("name"));
      }
    }
    tools = Set.copyOf(names);
  }

  void restarted() {
    restarts.increment();
  }

  void recycled() {
    recycles.increment();
  }

  void crashed() {
    crashes.increment();
  }

  /** Takes a snapshot of the pool's state for the gauges. PoolCall on the supervisor's loop. */
  void refresh(List<WorkerProcess> workers, int queued, boolean isDegraded) {
    int[] counts = new int[states.length()];
    for (WorkerProcess w : workers) {
      counts[w.state().ordinal()]++;
    }
    for (int i = 0; i < counts.length; i++) {
      states.set(i, counts[i]);
    }
    queueDepth = queued;
    degraded = isDegraded ? 1 : 0;
  }

  void queueDepth(int queued) {
    queueDepth = queued;
  }

  private <M extends Meter> M keep(M meter) {
    meters.add(meter);
    return meter;
  }

  /** Removes this pool's meters from the registry (the pool is gone). */
  void close() {
    meters.forEach(registry::remove);
    meters.clear();
  }
}
