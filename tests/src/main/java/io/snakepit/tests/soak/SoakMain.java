package io.snakepit.tests.soak;

import io.snakepit.tests.chaos.ChaosCluster;
import io.snakepit.tests.harness.Http;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code tests/soak.sh DURATION}: three node JVMs under a steady load of
 * session writes, reads and calls (a target rate per node), and once a minute
 * each node's heap after GC, threads and open files, and the minute's
 * throughput and p99. Flat means no upward trend: the last minute against the
 * first one after warm-up. Exits 0 when flat, 1 when something grew. Requests
 * the nodes cannot take (more than {@link #MAX_IN_FLIGHT} waiting) are shed and
 * counted, not queued, so a slow node shows as shed load, not as a growing
 * client queue.
 */
public final class SoakMain {

  static final int SESSIONS = 64;
  static final int MAX_IN_FLIGHT = 256;

  private SoakMain() {
  }

  public static void main(String[] args) throws Exception {
    Duration duration = args.length > 0 ? parse(args[0]) : Duration.ofMinutes(10);
    int perNode = Integer.getInteger("rate", 1000);
    int nodes = 3;
    boolean flat;
    try (ChaosCluster c = ChaosCluster.start(nodes, false, List.of())) {
      for (int s = 0; s < SESSIONS; s++) {
        Http.post(c.url(s % nodes) + "/v1/sessions", "{\"id\":\"soak-" + s + "\"}");
      }
      System.out.printf("soak: %d nodes, target %d operations/s per node, %s%n", nodes, perNode, duration);
      System.out.printf("%-6s %9s %8s %7s %7s  %s%n", "minute", "ops/s", "p99 ms", "errors", "shed",
          "per node: heap after GC MB / threads / open files");
      Load load = new Load(c, perNode * nodes);
      load.start();
      List<List<NodeVitals>> minutes = new ArrayList<>();
      long end = System.nanoTime() + duration.toNanos();
      int minute = 0;
      while (System.nanoTime() < end) {
        Thread.sleep(Math.min(60_000, Math.max(1, (end - System.nanoTime()) / 1_000_000))); // the sampling period
        minute++;
        Load.Window w = load.window();
        List<NodeVitals> vitals = new ArrayList<>();
        StringBuilder row = new StringBuilder();
        for (int i = 0; i < nodes; i++) {
          NodeVitals v = NodeVitals.of(c.node(i).pid());
          vitals.add(v);
          row.append(String.format(Locale.ROOT, "  %s %.0f/%d/%d", ChaosCluster.label(i), v.heapAfterGcMb(),
              v.threads(), v.openFiles()));
        }
        minutes.add(vitals);
        System.out.printf(Locale.ROOT, "%-6d %9.0f %8.2f %7d %7d %s%n", minute, w.opsPerSecond(), w.p99Ms(),
            w.errors(), w.shed(), row);
      }
      load.stop();
      flat = verdict(minutes);
    }
    // Only once the cluster is closed: System.exit inside the try would skip its close and leave the nodes running.
    System.exit(flat ? 0 : 1);
  }

  /**
   * Compares the floor (the lowest sample) of the last third of the minutes with that of the first third after
   * the first minute (warm-up): a leak raises the floor, while one sample of heap after GC swings with what is
   * in flight at that moment. Heap may grow by a quarter plus 16 MB, threads by 10, open files by 20, before
   * it counts as growth.
   */
  static boolean verdict(List<List<NodeVitals>> minutes) {
    if (minutes.size() < 3) {
      System.out.println("too short to see a trend: run at least 3 minutes");
      return true;
    }
    List<List<NodeVitals>> steady = minutes.subList(1, minutes.size());
    int k = Math.max(1, steady.size() / 3);
    boolean flat = true;
    for (int i = 0; i < steady.get(0).size(); i++) {
      int node = i;
      NodeVitals a = NodeVitals.floor(steady.subList(0, k).stream().map(m -> m.get(node)).toList());
      NodeVitals b = NodeVitals.floor(steady.subList(steady.size() - k, steady.size()).stream()
          .map(m -> m.get(node)).toList());
      boolean grew = b.grewFrom(a);
      System.out.printf(Locale.ROOT, "%s: %s (floors of the first and last %d minutes after warm-up): %s%n",
          ChaosCluster.label(i), b.changeFrom(a), k, grew ? "GROWING" : "flat");
      flat &= !grew;
    }
    return flat;
  }

  static Duration parse(String s) {
    if (s.endsWith("m")) {
      return Duration.ofMinutes(Long.parseLong(s.substring(0, s.length() - 1)));
    }
    if (s.endsWith("s")) {
      return Duration.ofSeconds(Long.parseLong(s.substring(0, s.length() - 1)));
    }
    return Duration.ofSeconds(Long.parseLong(s));
  }

  /** The load: requests at a fixed rate, spread over the nodes, at most {@link #MAX_IN_FLIGHT} at once. */
  static final class Load {
    private final ChaosCluster cluster;
    private final int rate;
    private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private final ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor();
    private final Semaphore inFlight = new Semaphore(MAX_IN_FLIGHT);
    private final Random random = new Random(1);
    private final ConcurrentLinkedQueue<Long> latencies = new ConcurrentLinkedQueue<>();
    private final AtomicLong errors = new AtomicLong();
    private final AtomicLong shed = new AtomicLong();
    private long windowStart = System.nanoTime();
    private long seq;

    Load(ChaosCluster cluster, int rate) {
      this.cluster = cluster;
      this.rate = rate;
    }

    /** One minute's figures. */
    record Window(double opsPerSecond, double p99Ms, long errors, long shed) {
    }

    void start() {
      // A tick every 10 ms sends a hundredth of the second's operations.
      ticker.scheduleAtFixedRate(() -> {
        for (int k = 0; k < Math.max(1, rate / 100); k++) {
          if (!inFlight.tryAcquire()) {
            shed.incrementAndGet(); // the nodes fell behind the target: counted, not queued
            continue;
          }
          send();
        }
      }, 0, 10, TimeUnit.MILLISECONDS);
    }

    private void send() {
      long n = ++seq;
      int node = (int) (n % cluster.size());
      String s = "soak-" + random.nextInt(SESSIONS);
      String base = cluster.url(node) + "/v1/sessions/" + s;
      int draw = random.nextInt(10);
      HttpRequest.Builder b = HttpRequest.newBuilder().header("Content-Type", "application/json")
          .timeout(Duration.ofSeconds(30));
      HttpRequest r = draw < 5
          ? b.uri(URI.create(base + "/variables/v" + (n % 8))).PUT(HttpRequest.BodyPublishers.ofString(
              "{\"value\":" + n + "}")).build()
          : draw < 8 ? b.uri(URI.create(base + "/variables")).GET().build()
          : b.uri(URI.create(base + "/execute")).POST(HttpRequest.BodyPublishers.ofString(
              "{\"tool\":\"echo\",\"args\":{\"n\":" + n + "}}")).build();
      long start = System.nanoTime();
      client.sendAsync(r, HttpResponse.BodyHandlers.discarding()).whenComplete((resp, t) -> {
        inFlight.release();
        if (t != null || resp.statusCode() >= 400) {
          errors.incrementAndGet();
        } else {
          latencies.add(System.nanoTime() - start);
        }
      });
    }

    Window window() {
      long now = System.nanoTime();
      List<Long> l = new ArrayList<>();
      Long x;
      while ((x = latencies.poll()) != null) {
        l.add(x);
      }
      l.sort(null);
      double seconds = (now - windowStart) / 1e9;
      windowStart = now;
      double p99 = l.isEmpty() ? 0 : l.get(Math.min(l.size() - 1, (int) (l.size() * 0.99))) / 1e6;
      return new Window(l.size() / seconds, p99, errors.getAndSet(0), shed.getAndSet(0));
    }

    void stop() throws InterruptedException {
      ticker.shutdownNow();
      ticker.awaitTermination(10, TimeUnit.SECONDS);
    }
  }
}
