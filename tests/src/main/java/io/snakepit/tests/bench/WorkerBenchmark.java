package io.snakepit.tests.bench;

import io.snakepit.contract.Addresses;
import io.snakepit.contract.ExecuteRequest;
import io.snakepit.supervisor.ProcessSupervisor;
import io.snakepit.supervisor.ProcessSupervisorVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The worker benchmark of docs/benchmarks.md: a no-op Python call through the
 * library, against the floor (a raw Unix-socket echo between Java and a
 * minimal Python loop) and against Python's own ProcessPoolExecutor, plus
 * pipelined throughput and the start time of a 16-worker pool, all in one run.
 *
 * <p>Run with {@code tests/bench.sh workers}. Prints a Markdown table.
 */
public final class WorkerBenchmark {

  private static final String PYTHON = System.getProperty("snakepit.python", "python3");
  private static final Path BENCH_DIR = Path.of(System.getProperty("snakepit.bench.dir", "python-worker/bench"));

  private WorkerBenchmark() {
  }

  public static void main(String[] args) throws Exception {
    if ("workers".equals(System.getProperty("only"))) {
      WorkerStartBenchmark.run(PYTHON, BENCH_DIR);
      return;
    }
    if ("reload".equals(System.getProperty("only"))) {
      ReloadBenchmark.run(PYTHON);
      return;
    }
    int n = Integer.getInteger("n", 20_000);
    int warmup = Integer.getInteger("warmup", 5_000);
    int inflight = Integer.getInteger("inflight", 256);
    List<String[]> rows = new ArrayList<>();
    System.err.println("floor: raw Unix-socket echo ...");
    Stats floor = rawEcho(n, warmup);
    double floorPipelined = rawEchoPipelined(n * 5, 64);
    System.err.println("library: in-process, sequential ...");
    // As a node runs by default (event-loops: 1): the router and the supervisor share the thread.
    Vertx vertx = Vertx.builder().with(new VertxOptions().setPreferNativeTransport(true)
        .setEventLoopPoolSize(Integer.getInteger("event-loops", 1))).build();
    Path data = Files.createTempDirectory("snakepit-bench-");
    try {
      ProcessSupervisorVerticle one = deploy(vertx, data, 1, 1);
      // The event-bus path is the one HTTP and the client take: router, then supervisor.
      String router = vertx.deployVerticle(new io.snakepit.routing.RoutingVerticle(), new DeploymentOptions()
          .setConfig(new JsonObject().put("node-id", "bench"))).await();
      // The three ways are measured in interleaved rounds, so that a change in the machine's load (it is shared)
      // weighs on each alike and their ratios hold.
      sequential(vertx, one.supervisor(), warmup, Via.IN_PROCESS);
      sequential(vertx, one.supervisor(), warmup, Via.BUS_RECORD);
      sequential(vertx, one.supervisor(), warmup, Via.BUS_JSON);
      int rounds = 10;
      long[][] lat = new long[3][];
      for (int r = 0; r < rounds; r++) {
        for (Via via : Via.values()) {
          long[] part = sequential(vertx, one.supervisor(), n / rounds, via);
          lat[via.ordinal()] = lat[via.ordinal()] == null ? part : concat(lat[via.ordinal()], part);
        }
      }
      Stats lib = Stats.of(lat[Via.IN_PROCESS.ordinal()]);
      Stats bus = Stats.of(lat[Via.BUS_RECORD.ordinal()]);
      Stats busJson = Stats.of(lat[Via.BUS_JSON.ordinal()]);
      vertx.undeploy(router).await();
      vertx.undeploy(one.deploymentID()).await();
      // The pool tests/bench-http.sh gives the node (2 workers, one call each): what HTTP is measured against.
      int httpPool = Integer.getInteger("http-pool", 2);
      ProcessSupervisorVerticle two = deploy(vertx, data, httpPool, 1);
      double pipelinedHttpPool = pipelined(vertx, two.supervisor(), n * 5, inflight);
      vertx.undeploy(two.deploymentID()).await();
      int size = 2 * Runtime.getRuntime().availableProcessors();
      ProcessSupervisorVerticle many = deploy(vertx, data, size, 16);
      double pipelined = pipelined(vertx, many.supervisor(), n * 5, inflight);
      vertx.undeploy(many.deploymentID()).await();
      System.err.println("pool start: 16 workers x 5 ...");
      long[] starts = new long[5];
      for (int i = 0; i < starts.length; i++) {
        long t0 = System.nanoTime();
        ProcessSupervisorVerticle p = deploy(vertx, data, 16, 1);
        starts[i] = System.nanoTime() - t0;
        vertx.undeploy(p.deploymentID()).await();
      }
      Stats start = Stats.of(starts);
      System.err.println("ProcessPoolExecutor ...");
      JsonObject ppe = processPoolExecutor(n, warmup);

      rows.add(row("raw Unix-socket echo, Java <-> minimal Python loop (floor)", floor, floorPipelined));
      rows.add(row("Snakepit no-op call, in-process API (pool of 1)", lib, Double.NaN));
      rows.add(row("Snakepit no-op call, over the local event bus via the router, as the front doors send it "
          + "(pool of 1)", bus, Double.NaN));
      rows.add(row("Snakepit no-op call, over the local event bus via the router, a JSON body as an application "
          + "sends it (pool of 1)", busJson, Double.NaN));
      rows.add(new String[] {"Snakepit no-op calls, pipelined (" + inflight + " in flight, " + size
          + " workers)", "", "", String.format("%.0f", pipelined)});
      rows.add(new String[] {"Snakepit no-op calls, pipelined (" + inflight + " in flight, " + httpPool
          + " workers, one call each)", "", "", String.format("%.0f", pipelinedHttpPool)});
      rows.add(new String[] {"Python ProcessPoolExecutor round trip (1 worker)",
          String.format("%.1f", ppe.getDouble("p50_us")), String.format("%.1f", ppe.getDouble("p99_us")),
          String.format("%.0f (pipelined)", ppe.getDouble("pipelined_calls_per_s"))});
      System.out.println("| measurement | p50 µs | p99 µs | calls/s |");
      System.out.println("| --- | ---: | ---: | ---: |");
      for (String[] r : rows) {
        System.out.println("| " + String.join(" | ", r) + " |");
      }
      System.out.println();
      System.out.printf("Ratios: library p50 / floor p50 = %.2f; event bus p50 / library p50 = %.2f "
              + "(JSON body: %.2f); ProcessPoolExecutor p50 / library p50 = %.1f; "
              + "pipelined calls/s / floor pipelined = %.2f%n",
          lib.p50() / floor.p50(), bus.p50() / lib.p50(), busJson.p50() / lib.p50(),
          ppe.getDouble("p50_us") / lib.p50(), pipelined / floorPipelined);
      System.out.printf("Pool of 16 workers ready: median %.0f ms, max %.0f ms (5 starts)%n",
          start.p50() / 1000.0, Stats.of(starts).p99() / 1000.0);
      System.out.println();
      WorkerStartBenchmark.run(PYTHON, BENCH_DIR);
    } finally {
      vertx.close().await();
      try (Stream<Path> walk = Files.walk(data)) {
        walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  private static String[] row(String name, Stats s, double perSecond) {
    return new String[] {name, String.format("%.1f", s.p50()), String.format("%.1f", s.p99()),
        Double.isNaN(perSecond) ? String.format("%.0f (sequential)", 1e6 / s.mean())
            : String.format("%.0f (pipelined)", perSecond)};
  }

  private static ProcessSupervisorVerticle deploy(Vertx vertx, Path data, int size, int concurrency) {
    ProcessSupervisorVerticle v = new ProcessSupervisorVerticle();
    JsonObject cfg = new JsonObject().put("node-id", "bench").put("data-dir", data.toString())
        .put("pools", new JsonObject().put("default", new JsonObject().put("size", size)
            .put("concurrency", concurrency).put("queue-size", 100_000)));
    vertx.deployVerticle(v, new DeploymentOptions().setConfig(cfg)).await();
    return v;
  }

  /** Chains calls one after another on the supervisor's event loop, timing each. */
  /** How a sequential call reaches the supervisor. */
  private enum Via {
    /** {@link ProcessSupervisor#execute}, no event bus. */
    IN_PROCESS,
    /** The router's local address with the request record, as the HTTP and gRPC front doors send it. */
    BUS_RECORD,
    /** The router's local address with a JSON body, as an application that embeds the node sends it. */
    BUS_JSON
  }

  private static long[] concat(long[] a, long[] b) {
    long[] all = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, all, a.length, b.length);
    return all;
  }

  /** {@code n} calls one after another, each timed. */
  private static long[] sequential(Vertx vertx, ProcessSupervisor sup, int n, Via via) throws Exception {
    long[] lat = new long[n];
    int warmup = 0;
    CompletableFuture<Void> done = new CompletableFuture<>();
    ExecuteRequest req = new ExecuteRequest(null, "noop", new JsonObject(), 0, null, "bench");
    JsonObject body = req.toJson();
    sup.context().runOnContext(v -> new Object() {
      int i = -warmup;
      long t0;

      void next() {
        if (i == n) {
          done.complete(null);
          return;
        }
        t0 = System.nanoTime();
        if (via != Via.IN_PROCESS) {
          vertx.eventBus().<JsonObject>request(Addresses.EXECUTE, via == Via.BUS_RECORD ? req : body)
              .onComplete(ar -> after(ar.succeeded(), ar.cause()));
        } else {
          sup.execute(req).onComplete(ar -> after(ar.succeeded(), ar.cause()));
        }
      }

      void after(boolean ok, Throwable cause) {
        if (!ok) {
          done.completeExceptionally(cause);
          return;
        }
        if (i >= 0) {
          lat[i] = System.nanoTime() - t0;
        }
        i++;
        next();
      }
    }.next());
    done.get(10, TimeUnit.MINUTES);
    return lat;
  }

  /** Keeps {@code inflight} calls outstanding; returns calls per second. */
  private static double pipelined(Vertx vertx, ProcessSupervisor sup, int total, int inflight) throws Exception {
    ExecuteRequest req = new ExecuteRequest(null, "noop", new JsonObject(), 0, null, "bench");
    Promise<Long> done = Promise.promise();
    sup.context().runOnContext(v -> new Object() {
      int sent;
      int received;
      long t0 = System.nanoTime();

      void start() {
        for (int k = 0; k < inflight; k++) {
          send();
        }
      }

      void send() {
        if (sent == total) {
          return;
        }
        sent++;
        sup.execute(req).onComplete(ar -> {
          if (ar.failed()) {
            done.tryFail(ar.cause());
            return;
          }
          if (++received == total) {
            done.tryComplete(System.nanoTime() - t0);
          } else {
            send();
          }
        });
      }
    }.start());
    long nanos = done.future().toCompletionStage().toCompletableFuture().get(10, TimeUnit.MINUTES);
    return total / (nanos / 1e9);
  }

  // ---- the floor -------------------------------------------------------------------------------

  /** A frame the size of a no-op REQUEST, so the floor moves the same bytes. */
  private static ByteBuffer probe() {
    byte[] json = "{\"tool\":\"noop\",\"args\":{},\"correlation_id\":\"bench\",\"stream\":false,\"timeout_ms\":30000}"
        .getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocateDirect(4 + 9 + json.length);
    b.putInt(9 + json.length).put((byte) 4).putInt(1).putInt(json.length).put(json).flip();
    return b;
  }

  private interface EchoBody {
    void run(SocketChannel ch) throws IOException;
  }

  private static void withEchoPeer(EchoBody body) throws Exception {
    Path dir = Files.createTempDirectory("snakepit-floor-");
    Path sock = dir.resolve("echo.sock");
    Process py = null;
    try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      server.bind(UnixDomainSocketAddress.of(sock));
      py = new ProcessBuilder(PYTHON, BENCH_DIR.resolve("raw_echo.py").toString(), sock.toString())
          .inheritIO().start();
      try (SocketChannel ch = server.accept()) {
        body.run(ch);
      }
    } finally {
      if (py != null) {
        py.destroyForcibly().waitFor();
      }
      Files.deleteIfExists(sock);
      Files.deleteIfExists(dir);
    }
  }

  private static Stats rawEcho(int n, int warmup) throws Exception {
    long[] lat = new long[n];
    withEchoPeer(ch -> {
      ByteBuffer out = probe();
      ByteBuffer in = ByteBuffer.allocateDirect(out.capacity());
      for (int i = -warmup; i < n; i++) {
        long t0 = System.nanoTime();
        out.rewind();
        while (out.hasRemaining()) {
          ch.write(out);
        }
        in.clear();
        while (in.hasRemaining()) {
          ch.read(in);
        }
        if (i >= 0) {
          lat[i] = System.nanoTime() - t0;
        }
      }
    });
    return Stats.of(lat);
  }

  private static double rawEchoPipelined(int total, int inflight) throws Exception {
    double[] rate = new double[1];
    withEchoPeer(ch -> {
      ByteBuffer one = probe();
      int size = one.capacity();
      ByteBuffer out = ByteBuffer.allocateDirect(size * inflight);
      for (int k = 0; k < inflight; k++) {
        one.rewind();
        out.put(one);
      }
      ByteBuffer in = ByteBuffer.allocateDirect(size * inflight);
      long t0 = System.nanoTime();
      for (int done = 0; done < total; done += inflight) {
        out.rewind();
        while (out.hasRemaining()) {
          ch.write(out);
        }
        in.clear();
        while (in.hasRemaining()) {
          ch.read(in);
        }
      }
      rate[0] = total / ((System.nanoTime() - t0) / 1e9);
    });
    return rate[0];
  }

  private static JsonObject processPoolExecutor(int n, int warmup) throws Exception {
    Process p = new ProcessBuilder(PYTHON, BENCH_DIR.resolve("ppe_bench.py").toString(), "--n",
        Integer.toString(n), "--warmup", Integer.toString(warmup)).redirectError(ProcessBuilder.Redirect.INHERIT)
        .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IOException("ppe_bench.py failed");
    }
    return new JsonObject(out.substring(out.indexOf('{')));
  }
}
