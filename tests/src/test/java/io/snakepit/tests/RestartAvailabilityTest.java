package io.snakepit.tests;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.tests.harness.Http;
import io.snakepit.tests.harness.NodeProcess;
import io.snakepit.tests.harness.Poll;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A node restarted under load, on the same ports and data dir, as separate
 * JVMs: clients that keep calling through the restarts must get either an
 * answer or a retryable refusal ({@code 503} with a typed, retryable code and
 * a correlation id), or find the port closed; never a {@code 500}. Before the
 * serving gate, calls that reached the HTTP server before the router was
 * deployed got {@code 500 internal} "No handlers for address snakepit.execute".
 */
class RestartAvailabilityTest {

  static final Duration DEADLINE = Duration.ofSeconds(90);
  static final int CLIENTS = 3;
  static final int RESTARTS = 2;
  /** Bounds on each client's loop, whatever happens: it stops by itself. */
  static final long MAX_CALLS_PER_CLIENT = 200_000;
  static final Duration MAX_LOAD_TIME = Duration.ofMinutes(6);

  /**
   * The codes a restart may legitimately answer with, all 503 and all "nothing ran, retry":
   * {@code starting} (the APIs listen before the router is deployed), {@code shutting_down}
   * (the drain is over and the APIs are about to close; or queued calls refused during the drain),
   * {@code no_workers} (the router is up and the pool's workers are still starting).
   */
  static final Set<String> RETRYABLE = Set.of("starting", "shutting_down", "no_workers");

  Path dataDir;
  final List<NodeProcess> nodes = new ArrayList<>();
  final Set<Long> workerPids = ConcurrentHashMap.newKeySet();

  @BeforeEach
  void setUp() throws Exception {
    dataDir = Files.createTempDirectory("snakepit-restart-");
  }

  @AfterEach
  void tearDown() throws Exception {
    nodes.forEach(NodeProcess::close);
    for (long pid : workerPids) {
      ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    }
    try (var walk = Files.walk(dataDir)) {
      walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  /** What the clients saw, summed over all of them. */
  static final class Tally {
    final AtomicLong ok = new AtomicLong();
    final AtomicLong connectionErrors = new AtomicLong();
    final Map<String, AtomicLong> byOutcome = new ConcurrentHashMap<>();
    /** Answers that break the rule, with their status, headers and body: empty when all is well. */
    final List<String> violations = Collections.synchronizedList(new ArrayList<>());

    void count(String outcome) {
      byOutcome.computeIfAbsent(outcome, k -> new AtomicLong()).incrementAndGet();
    }

    long of(String outcome) {
      AtomicLong n = byOutcome.get(outcome);
      return n == null ? 0 : n.get();
    }

    @Override
    public String toString() {
      Map<String, Long> sorted = new TreeMap<>();
      byOutcome.forEach((k, v) -> sorted.put(k, v.get()));
      return sorted.toString();
    }
  }

  /** One client: POST /v1/execute of the demo adapter's no-op tool, over and over, recording each outcome. */
  static final class Client implements Runnable {
    final String url;
    final Tally tally;
    final AtomicBoolean stop;
    final String name;

    Client(String url, Tally tally, AtomicBoolean stop, String name) {
      this.url = url;
      this.tally = tally;
      this.stop = stop;
      this.name = name;
    }

    @Override
    public void run() {
      long end = System.nanoTime() + MAX_LOAD_TIME.toNanos();
      HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5)).build();
      for (long i = 0; i < MAX_CALLS_PER_CLIENT && !stop.get() && System.nanoTime() < end; i++) {
        String cid = name + "-" + i;
        HttpResponse<String> r;
        try {
          r = http.send(HttpRequest.newBuilder(URI.create(url + "/v1/execute")).timeout(Duration.ofSeconds(30))
              .header("Content-Type", "application/json").header("X-Correlation-Id", cid)
              .POST(HttpRequest.BodyPublishers.ofString("{\"tool\":\"noop\"}")).build(),
              HttpResponse.BodyHandlers.ofString());
        } catch (HttpTimeoutException e) {
          // A call that hangs is not a refusal: it breaks the rule.
          tally.count("timeout");
          tally.violations.add(cid + ": no answer within 30 s: " + e);
          continue;
        } catch (IOException e) {
          // The port is closed (refused), or the connection went with the stopping node (reset, closed).
          tally.connectionErrors.incrementAndGet();
          tally.count("io:" + (e instanceof ConnectException ? "refused" : e.getClass().getSimpleName()));
          pause();
          continue;
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
        judge(cid, r);
      }
    }

    void judge(String cid, HttpResponse<String> r) {
      if (r.statusCode() == 200) {
        tally.ok.incrementAndGet();
        tally.count("200");
        return;
      }
      String code = null;
      String bodyCid = null;
      try {
        JsonObject err = new JsonObject(r.body()).getJsonObject("error");
        code = err.getString("code");
        bodyCid = err.getString("correlation_id");
      } catch (RuntimeException notTyped) {
        // reported below
      }
      tally.count(r.statusCode() + ":" + code);
      boolean retryAfter = !("starting".equals(code) || "shutting_down".equals(code))
          || r.headers().firstValue("Retry-After").isPresent();
      if (r.statusCode() != 503 || !RETRYABLE.contains(code) || !cid.equals(bodyCid) || !retryAfter) {
        tally.violations.add(cid + ": HTTP " + r.statusCode() + " " + r.headers().map() + " " + r.body());
      }
      pause();
    }

    /** Keeps a refused client from spinning on the two cores the node needs to start; not a synchronisation. */
    static void pause() {
      LockSupport.parkNanos(2_000_000);
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  static boolean portClosed(int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
      return false;
    } catch (IOException e) {
      return true;
    }
  }

  NodeProcess start(int http, int grpc) throws Exception {
    NodeProcess node = NodeProcess.startOnPorts(dataDir, DEADLINE, http, grpc, "--pool-size", "2");
    nodes.add(node);
    for (Object w : Http.getJson(node.baseUrl() + "/v1/workers").getJsonArray("workers")) {
      workerPids.add(((JsonObject) w).getLong("pid"));
    }
    return node;
  }

  /** SIGTERM, then wait for the JVM to exit; keeps its log beside the next run's. */
  void stop(NodeProcess node, int run) throws Exception {
    node.signal("TERM");
    assertThat(node.process().waitFor(DEADLINE.toSeconds(), java.util.concurrent.TimeUnit.SECONDS))
        .as("node run %d exits after SIGTERM", run).isTrue();
    Files.move(dataDir.resolve("node.log"), dataDir.resolve("node-" + run + ".log"),
        StandardCopyOption.REPLACE_EXISTING);
  }

  @Test
  void callsThroughRestartsAreAnsweredOrRefusedRetryablyAndNeverFailWith500() throws Exception {
    int http = freePort();
    int grpc = freePort();
    NodeProcess node = start(http, grpc);
    Tally tally = new Tally();
    AtomicBoolean stop = new AtomicBoolean();
    List<Thread> clients = new ArrayList<>();
    for (int i = 0; i < CLIENTS; i++) {
      Thread t = new Thread(new Client(node.baseUrl(), tally, stop, "restart-c" + i), "restart-client-" + i);
      t.setDaemon(true);
      clients.add(t);
      t.start();
    }
    try {
      long answered = tally.ok.get();
      Poll.until("the clients get answers from the first run", DEADLINE, () -> tally.ok.get() > answered + 20);
      for (int run = 1; run <= RESTARTS; run++) {
        stop(node, run);
        long refused = tally.connectionErrors.get();
        Poll.until("the clients find the port closed after run " + run, DEADLINE,
            () -> tally.connectionErrors.get() > refused);
        node = start(http, grpc);
        long before = tally.ok.get();
        Poll.until("the clients get answers again after restart " + run, DEADLINE,
            () -> tally.ok.get() > before + 20);
      }
    } finally {
      stop.set(true);
      for (Thread t : clients) {
        t.join(DEADLINE.toMillis());
      }
    }
    assertThat(clients).as("client threads ended").noneMatch(Thread::isAlive);
    stop(node, RESTARTS + 1);

    System.out.println("RestartAvailabilityTest outcomes: " + tally + ", connection errors "
        + tally.connectionErrors.get());
    assertThat(tally.violations).as("answers that are not 200 or a retryable 503 with a correlation id; outcomes "
        + tally).isEmpty();
    assertThat(tally.byOutcome.keySet()).as("outcomes").noneMatch(o -> o.startsWith("500"));
    assertThat(tally.ok.get()).isPositive();

    // Nothing the test started is left: no node, no worker, no listening port.
    for (NodeProcess n : nodes) {
      assertThat(n.process().isAlive()).as("node pid %d", n.pid()).isFalse();
    }
    for (long pid : workerPids) {
      Poll.until("worker " + pid + " is gone", DEADLINE, () -> !Poll.alive(pid));
    }
    Poll.until("the HTTP and gRPC ports are closed", DEADLINE, () -> portClosed(http) && portClosed(grpc));
  }
}
