package io.snakepit.tests.bench;

import com.hazelcast.config.Config;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import io.snakepit.app.Node;
import io.snakepit.app.NodeConfig;
import io.snakepit.session.HybridLogicalClock;
import io.snakepit.session.SessionLimits;
import io.snakepit.session.SessionSettings;
import io.snakepit.session.SessionStore;
import io.snakepit.session.SessionStoreClient;
import io.snakepit.session.SessionStoreVerticle;
import io.snakepit.session.hazelcast.HazelcastSessionStoreFactory;
import io.snakepit.session.memory.MemorySessionStoreFactory;
import io.snakepit.session.sealing.DataKeyRing;
import io.snakepit.session.sealing.SealedSessionStore;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.IntFunction;
import java.util.stream.Stream;

/**
 * The cost of session data encryption on a session update (docs/benchmarks.md, "Session data encryption"): a
 * variable set in a session of {@code -Dvars} variables, one operation at a time, with and without
 * {@code sessions.encryption} in the same run, in interleaved rounds (order reversed every other round); the
 * table gives the medians of the per-round p50 and p99 and of the per-round p50 ratios. Paths: the SPI
 * in-process on the memory adapter (the crypto's absolute cost), over the local event bus as a node's
 * components and Python workers reach the store, the Hazelcast store on one embedded member, and HTTP
 * {@code PUT /v1/sessions/{id}/variables/{name}} on two whole nodes in this JVM, one without and one with
 * encryption (each its own memory adapter, persistent with durability commit, as a node runs by default). Run with
 * {@code tests/bench.sh encryption}; properties {@code -Dn=20000 -Drounds=5 -Dvars=10 -Dsessions=1000}.
 */
public final class EncryptionBenchmark {

  private EncryptionBenchmark() {
  }

  public static void main(String[] args) throws Exception {
    int n = Integer.getInteger("n", 20_000);
    int rounds = Integer.getInteger("rounds", 5);
    int vars = Integer.getInteger("vars", 10);
    int sessions = Integer.getInteger("sessions", 1000);
    Path dir = Files.createTempDirectory("snakepit-encbench-");
    Path keyFile = dir.resolve("data-keys");
    Files.writeString(keyFile, DataKeyRing.newKeyLine(System.currentTimeMillis()) + "\n");
    DataKeyRing ring = DataKeyRing.load(keyFile);
    Vertx vertx = Vertx.vertx();
    HazelcastInstance hz = Hazelcast.newHazelcastInstance(member());
    List<Node> nodes = new ArrayList<>();
    try {
      SessionStore mem = memory(vertx);
      SessionStore memSealed = new SealedSessionStore(memory(vertx), () -> ring, true);
      SessionStore hzPlain = HazelcastSessionStoreFactory.create(vertx, settings(), new JsonObject()
          .put("map-name", "bench-plain"), hz).await();
      SessionStore hzSealed = new SealedSessionStore(HazelcastSessionStoreFactory.create(vertx, settings(),
          new JsonObject().put("map-name", "bench-sealed"), hz).await(), () -> ring, false);
      for (SessionStore s : List.of(mem, memSealed, hzPlain, hzSealed)) {
        fill(s, sessions, vars);
      }
      String value = "x".repeat(64);
      List<Row> rows = new ArrayList<>();
      rows.add(new Row("SPI in-process, memory adapter (heap)",
          i -> mem.putVariable("s" + Math.floorMod(i, sessions), "v0", value + i),
          i -> memSealed.putVariable("s" + Math.floorMod(i, sessions), "v0", value + i)));
      SessionStoreClient bus = SessionStoreClient.local(vertx);
      rows.add(new Row("over the local event bus, memory adapter",
          i -> bus.putVariable("s" + Math.floorMod(i, sessions), "v0", value + i),
          i -> bus.putVariable("s" + Math.floorMod(i, sessions), "v0", value + i)));
      rows.add(new Row("Hazelcast store, one embedded member",
          i -> hzPlain.putVariable("s" + Math.floorMod(i, sessions), "v0", value + i),
          i -> hzSealed.putVariable("s" + Math.floorMod(i, sessions), "v0", value + i)));
      // Two whole nodes in this JVM, default session store (memory adapter, persistent, durability commit).
      nodes.add(node(dir, "bench-clear", null));
      nodes.add(node(dir, "bench-sealed", keyFile));
      WebClient http = WebClient.create(vertx, new WebClientOptions().setKeepAlive(true));
      for (Node node : nodes) {
        for (int i = 0; i < sessions; i++) {
          send(http, node, HttpMethod.POST, "/v1/sessions", new JsonObject().put("id", "s" + i)).await();
          for (int v = 0; v < vars; v++) {
            send(http, node, HttpMethod.PUT, "/v1/sessions/s" + i + "/variables/v" + v,
                new JsonObject().put("value", value)).await();
          }
        }
      }
      rows.add(new Row("HTTP PUT of a variable, a whole node (memory adapter, persistent, commit)",
          i -> send(http, nodes.get(0), HttpMethod.PUT, "/v1/sessions/s" + Math.floorMod(i, sessions)
              + "/variables/v0", new JsonObject().put("value", value + i)),
          i -> send(http, nodes.get(1), HttpMethod.PUT, "/v1/sessions/s" + Math.floorMod(i, sessions)
              + "/variables/v0", new JsonObject().put("value", value + i))));

      System.out.printf("Session update (set one variable of %d in the session), n=%d per cell, %d rounds%n%n", vars,
          n, rounds);
      System.out.println("| path | clear p50 / p99 µs | encrypted p50 / p99 µs | encrypted / clear (p50) |");
      System.out.println("| --- | ---: | ---: | ---: |");
      for (Row row : rows) {
        boolean viaBus = row.name.contains("event bus");
        List<double[]> clear = new ArrayList<>();
        List<double[]> sealed = new ArrayList<>();
        for (int r = 0; r < rounds; r++) {
          for (int k = 0; k < 2; k++) {
            boolean encrypted = (k == 0) == (r % 2 == 0);
            String deployment = null;
            if (viaBus) {
              JsonObject sess = new JsonObject().put("memory", new JsonObject().put("persistence", false));
              if (encrypted) {
                sess.put("encryption", new JsonObject().put("key-file", keyFile.toString()));
              }
              deployment = vertx.deployVerticle(new SessionStoreVerticle(), new DeploymentOptions().setConfig(
                  new JsonObject().put("node-id", "bench").put("sessions", sess))).await();
              for (int i = 0; i < sessions; i++) {
                bus.create(new JsonObject().put("id", "s" + i)).await();
                for (int v = 0; v < vars; v++) {
                  bus.putVariable("s" + i, "v" + v, value).await();
                }
              }
            }
            Stats s = time(vertx, n, encrypted ? row.sealed : row.clear);
            (encrypted ? sealed : clear).add(new double[] {s.p50(), s.p99()});
            if (deployment != null) {
              vertx.undeploy(deployment).await();
            }
          }
        }
        double[] ratios = new double[rounds];
        for (int r = 0; r < rounds; r++) {
          ratios[r] = sealed.get(r)[0] / clear.get(r)[0];
        }
        System.out.printf("| %s | %.2f / %.2f | %.2f / %.2f | %.2f |%n", row.name, median(clear, 0),
            median(clear, 1), median(sealed, 0), median(sealed, 1), median(ratios));
      }
      for (SessionStore s : List.of(mem, memSealed, hzPlain, hzSealed)) {
        s.close().await();
      }
    } finally {
      nodes.forEach(Node::close);
      hz.shutdown();
      vertx.close().await();
      try (Stream<Path> walk = Files.walk(dir)) {
        walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  private static Node node(Path dir, String id, Path keyFile) throws Exception {
    Path data = Files.createDirectories(dir.resolve(id));
    JsonObject cfg = new JsonObject().put("http-port", 0).put("grpc-port", 0).put("data-dir", data.toString())
        .put("pools", new JsonObject().put("default", new JsonObject().put("size", 1)));
    if (keyFile != null) {
      cfg.put("sessions", new JsonObject().put("encryption", new JsonObject().put("key-file", keyFile.toString())));
    }
    Node node = new Node(NodeConfig.fromJson(cfg, id));
    node.start().await();
    return node;
  }

  private static Future<?> send(WebClient http, Node node, HttpMethod method, String uri, JsonObject body) {
    return http.request(method, node.httpPort(), "127.0.0.1", uri).sendJsonObject(body).map(resp -> {
      if (resp.statusCode() >= 300) {
        throw new IllegalStateException(method + " " + uri + ": " + resp.statusCode() + " " + resp.bodyAsString());
      }
      return resp;
    });
  }

  private record Row(String name, IntFunction<Future<?>> clear, IntFunction<Future<?>> sealed) {
  }

  private static SessionSettings settings() {
    return new SessionSettings("bench", new HybridLogicalClock(), SessionLimits.fromJson(new JsonObject(), "limits"),
        null, 60_000, 3_600_000);
  }

  private static SessionStore memory(Vertx vertx) {
    return new MemorySessionStoreFactory().create(vertx, settings(), new JsonObject().put("persistence", false))
        .await();
  }

  private static void fill(SessionStore s, int sessions, int vars) {
    for (int i = 0; i < sessions; i++) {
      s.create("s" + i, 0, null).await();
      for (int v = 0; v < vars; v++) {
        s.putVariable("s" + i, "v" + v, "x".repeat(64)).await();
      }
    }
  }

  private static Config member() {
    Config c = new Config();
    c.setClusterName("snakepit-encbench-" + UUID.randomUUID());
    c.setProperty("hazelcast.phone.home.enabled", "false");
    c.setProperty("hazelcast.logging.type", "slf4j");
    c.getNetworkConfig().setPort(22_000 + ThreadLocalRandom.current().nextInt(200) * 20).setPortAutoIncrement(true);
    c.getNetworkConfig().getInterfaces().setEnabled(true).addInterface("127.0.0.1");
    c.getNetworkConfig().getJoin().getAutoDetectionConfig().setEnabled(false);
    c.getNetworkConfig().getJoin().getMulticastConfig().setEnabled(false);
    HazelcastSessionStoreFactory.configure(c, new JsonObject());
    c.addMapConfig(HazelcastSessionStoreFactory.mapConfig("bench-*", 1));
    return c;
  }

  private static double median(List<double[]> xs, int col) {
    double[] v = xs.stream().mapToDouble(x -> x[col]).sorted().toArray();
    return v[v.length / 2];
  }

  private static double median(double[] xs) {
    double[] v = xs.clone();
    java.util.Arrays.sort(v);
    return v[v.length / 2];
  }

  /** Chains {@code n} operations (after as many for warm-up) one after another on an event loop. */
  private static Stats time(Vertx vertx, int n, IntFunction<Future<?>> op) throws Exception {
    long[] lat = new long[n];
    Promise<Void> done = Promise.promise();
    vertx.runOnContext(v -> new Object() {
      int i = -n;

      void next() {
        while (i < n) {
          int at = i++;
          long t0 = System.nanoTime();
          Future<?> f = op.apply(at);
          if (!f.isComplete()) {
            f.onComplete(ar -> {
              if (finish(ar.cause(), at, t0)) {
                next();
              }
            });
            return;
          }
          if (!finish(f.cause(), at, t0)) {
            return;
          }
        }
        done.tryComplete();
      }

      boolean finish(Throwable failure, int at, long t0) {
        if (failure != null) {
          done.tryFail(failure);
          return false;
        }
        if (at >= 0) {
          lat[at] = System.nanoTime() - t0;
        }
        return true;
      }
    }.next());
    done.future().await();
    return Stats.of(lat);
  }
}
