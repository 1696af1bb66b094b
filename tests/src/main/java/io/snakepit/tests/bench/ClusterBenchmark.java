package io.snakepit.tests.bench;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import io.snakepit.client.SnakepitClient;
import io.snakepit.session.hazelcast.HazelcastFutures;
import io.snakepit.tests.harness.Cluster;
import io.snakepit.tests.harness.Http;
import io.snakepit.tests.harness.NodeProcess;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.core.shareddata.AsyncMap;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/**
 * The cluster benchmark of docs/benchmarks.md. Starts three node JVMs on
 * loopback, joins them as a fourth (client-only) member, and measures in one
 * run: session get and update through {@link SnakepitClient} (p50, p99 and
 * throughput), raw IMap get and set on the same cluster, Vert.x's clustered
 * AsyncMap, and an HTTP call in a session sent to its owner against one sent
 * to another node (the routing hop). Run with {@code tests/bench.sh cluster}.
 */
public final class ClusterBenchmark {

  private ClusterBenchmark() {
  }

  public static void main(String[] args) throws Exception {
    int sessions = Integer.getInteger("sessions", 10_000);
    int n = Integer.getInteger("n", 20_000);
    int inflight = Integer.getInteger("inflight", 64);
    try (Cluster cluster = new Cluster().start(3)) {
      Vertx vertx = cluster.joinAsApplication();
      HazelcastClusterManager mgr = (HazelcastClusterManager) ((io.vertx.core.internal.VertxInternal) vertx)
          .clusterManager();
      try {
        SnakepitClient client = SnakepitClient.create(vertx);
        System.err.println("creating " + sessions + " sessions ...");
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < sessions; i++) {
          ids.add("b-" + i);
        }
        Pipelined.run(vertx, sessions, 64, i -> client.createSession(ids.get(i), 3600, null));
        HazelcastInstance instance = mgr.getHazelcastInstance();
        IMap<String, String> raw = instance.getMap("bench-raw");
        AsyncMap<String, String> async = vertx.sharedData().<String, String>getAsyncMap("bench-async").await();
        for (int i = 0; i < sessions; i++) {
          raw.set("k" + i, "{\"v\":" + i + "}");
        }
        for (int i = 0; i < 1000; i++) {
          async.put("k" + i, "{\"v\":" + i + "}").await();
        }

        System.out.println("| operation (3 nodes, loopback, " + sessions + " sessions) | p50 µs | p99 µs "
            + "(one at a time) | ops/s (" + inflight + " in flight) |");
        System.out.println("| --- | ---: | ---: | ---: |");
        row("session get (SnakepitClient, event bus → owner's store)", vertx, n, inflight,
            i -> client.getSession(ids.get(i % sessions)));
        row("session update: set a variable (entry processor, sync backup)", vertx, n, inflight,
            i -> client.putVariable(ids.get(i % sessions), "v", i));
        row("raw IMap get (same cluster, floor)", vertx, n, inflight,
            i -> HazelcastFutures.on(vertx.getOrCreateContext(), raw.getAsync("k" + (i % sessions))));
        row("raw IMap set (same cluster, floor)", vertx, n, inflight,
            i -> HazelcastFutures.on(vertx.getOrCreateContext(),
                raw.setAsync("k" + (i % sessions), "{\"v\":" + i + "}")));
        row("Vert.x clustered AsyncMap get", vertx, n, inflight, i -> async.get("k" + (i % 1000)));
        row("Vert.x clustered AsyncMap put", vertx, n, inflight, i -> async.put("k" + (i % 1000), "x" + i));

        // The routing hop over the event bus: a call in a session sent by SnakepitClient straight to the
        // session's owner (the client holds the ring: one hop), against the same call sent to a node that
        // is not the owner, which forwards it (two hops). 1,000 sessions, their owners read once.
        int hopSessions = Math.min(1_000, sessions);
        List<String> notOwner = new ArrayList<>();
        for (int i = 0; i < hopSessions; i++) {
          String owner = Http.getJson(cluster.node(0).baseUrl() + "/v1/sessions/" + ids.get(i)).getString("owner");
          notOwner.add(cluster.nodes().stream().map(NodeProcess::nodeId).filter(id -> !id.equals(owner))
              .findFirst().orElseThrow());
        }
        row("execute no-op in a session: SnakepitClient → owner (one hop)", vertx, n, inflight,
            i -> client.execute(new io.snakepit.client.Call("noop").session(ids.get(i % hopSessions))));
        row("execute no-op in a session: sent to another node, forwarded to the owner", vertx, n, inflight,
            i -> vertx.eventBus().request(io.snakepit.contract.Addresses.node(notOwner.get(i % hopSessions),
                "execute"), new JsonObject().put("tool", "noop").put("session_id", ids.get(i % hopSessions))));

        // The routing hop over HTTP: the same session call sent to its owner, and to another node.
        NodeProcess entry = cluster.node(0);
        String local = null;
        String remote = null;
        for (String id : ids) {
          String owner = Http.getJson(entry.baseUrl() + "/v1/sessions/" + id).getString("owner");
          if (local == null && entry.nodeId().equals(owner)) {
            local = id;
          } else if (remote == null && !entry.nodeId().equals(owner)) {
            remote = id;
          }
          if (local != null && remote != null) {
            break;
          }
        }
        Stats atOwner = http(entry, local, 3000);
        Stats routed = http(entry, remote, 3000);
        System.out.println();
        System.out.printf("HTTP execute in a session, sent to its owner: p50 %.0f µs, p99 %.0f µs; sent to another "
                + "node (one routing hop): p50 %.0f µs, p99 %.0f µs; hop overhead p50 %.0f µs (%.2fx)%n",
            atOwner.p50(), atOwner.p99(), routed.p50(), routed.p99(), routed.p50() - atOwner.p50(),
            routed.p50() / atOwner.p50());
        client.close();
      } finally {
        vertx.close().await();
      }
    }
  }

  private static Stats http(NodeProcess entry, String session, int calls) throws Exception {
    String url = entry.baseUrl() + "/v1/sessions/" + session + "/execute";
    for (int i = 0; i < 500; i++) {
      Http.post(url, "{\"tool\":\"noop\"}");
    }
    long[] lat = new long[calls];
    for (int i = 0; i < calls; i++) {
      long t0 = System.nanoTime();
      if (Http.post(url, "{\"tool\":\"noop\"}").statusCode() != 200) {
        throw new IllegalStateException("call failed");
      }
      lat[i] = System.nanoTime() - t0;
    }
    return Stats.of(lat);
  }

  /** Latency one operation at a time, then throughput with {@code inflight} outstanding. */
  private static void row(String name, Vertx vertx, int n, int inflight, IntFunction<Future<?>> op)
      throws Exception {
    Pipelined.run(vertx, Math.min(n, 2_000), inflight, op); // warm-up
    int sequential = Math.max(1_000, n / 4);
    long[] lat = new long[sequential];
    Pipelined.run(vertx, sequential, 1, i -> {
      long s = System.nanoTime();
      return op.apply(i).onSuccess(v -> lat[i] = System.nanoTime() - s);
    });
    long t0 = System.nanoTime();
    Pipelined.run(vertx, n, inflight, op);
    double perSecond = n / ((System.nanoTime() - t0) / 1e9);
    Stats st = Stats.of(lat);
    System.out.printf("| %s | %.0f | %.0f | %.0f |%n", name, st.p50(), st.p99(), perSecond);
  }
}
