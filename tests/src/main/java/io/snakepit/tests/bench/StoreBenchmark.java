package io.snakepit.tests.bench;

import com.hazelcast.config.Config;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastJsonValue;
import com.hazelcast.map.IMap;
import io.snakepit.session.HybridLogicalClock;
import io.snakepit.session.SessionLimits;
import io.snakepit.session.SessionSettings;
import io.snakepit.session.SessionStore;
import io.snakepit.session.hazelcast.HazelcastFutures;
import io.snakepit.session.hazelcast.HazelcastSessionStore;
import io.snakepit.session.hazelcast.HazelcastSessionStoreFactory;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;
import java.util.function.IntFunction;
import java.util.regex.Pattern;

/**
 * The "session store on the primary" benchmark of docs/benchmarks.md: three
 * embedded Hazelcast members in this one JVM on loopback (backup count 1), the
 * Hazelcast session store opened on each, and, on member A, the store's get,
 * getVariable and putVariable against raw {@code IMap} get and set issued on A
 * for the same keys: first the keys whose partition primary is A, then the
 * keys whose primary is another member. Latency is one operation at a time
 * (p50/p99 µs), throughput with {@code -Dinflight} outstanding. The rows run
 * in interleaved rounds ({@code -Drounds}, order reversed every other round)
 * and the table gives the medians of the per-round p50 and p99, and of the
 * per-round ratios. Run with {@code tests/bench.sh store}.
 *
 * <p>Properties: {@code -Dsessions=10000 -Dn=10000 -Drounds=5 -Dinflight=64
 * -Dtput=20000 -Dpartitions=271 -Dhot=100 -Donly=regex} (rows whose label matches). Each row cycles
 * through its keys; the "hot" row through the first {@code hot} of them only, so that its reads rarely
 * touch.
 */
public final class StoreBenchmark {

  private static final String RAW_MAP = "bench-raw";

  private StoreBenchmark() {
  }

  /** One measured row: an asynchronous operation (completed on the event loop) or a blocking one. */
  private record Row(String name, boolean owned, IntFunction<Future<?>> async, IntConsumer sync, boolean tput) {
  }

  /** Per-round results of a row. */
  private static final class Result {
    final List<Double> p50 = new ArrayList<>();
    final List<Double> p99 = new ArrayList<>();
    final List<Double> perSecond = new ArrayList<>();
    final List<Long> puts = new ArrayList<>();
    final List<Integer> ops = new ArrayList<>();
  }

  public static void main(String[] args) throws Exception {
    int sessions = Integer.getInteger("sessions", 10_000);
    int n = Integer.getInteger("n", 10_000);
    int rounds = Integer.getInteger("rounds", 5);
    int inflight = Integer.getInteger("inflight", 64);
    int tputN = Integer.getInteger("tput", 20_000);
    int partitions = Integer.getInteger("partitions", 271);
    int hot = Integer.getInteger("hot", 100);
    String only = System.getProperty("only");
    Pattern filter = only == null ? null : Pattern.compile(only);

    String clusterName = "snakepit-bench-" + UUID.randomUUID();
    int basePort = 21_000 + ThreadLocalRandom.current().nextInt(200) * 50;
    List<HazelcastInstance> members = new ArrayList<>();
    Vertx vertx = Vertx.vertx();
    List<SessionStore> stores = new ArrayList<>();
    try {
      for (int i = 0; i < 3; i++) {
        members.add(Hazelcast.newHazelcastInstance(config(clusterName, basePort, i, partitions)));
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!members.stream().allMatch(m -> m.getCluster().getMembers().size() == 3)) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("the three members did not meet");
        }
        Thread.sleep(50);
      }
      for (int i = 0; i < 3; i++) {
        stores.add(open(vertx, members.get(i), "node-" + i, SessionLimits.defaults()));
      }
      HazelcastInstance a = members.get(0);
      SessionStore store = stores.get(0);
      // A second store on A whose reads touch every time: what the touch granularity saves.
      SessionLimits d = SessionLimits.defaults();
      SessionStore touchAll = open(vertx, a, "node-0", new SessionLimits(d.maxSessions(), d.maxVariables(),
          d.maxValueBytes(), d.maxPrograms(), d.maxProgramBytes(), d.maxMetadataBytes(), d.maxNameLength(),
          d.defaultTtlMs(), d.maxTtlMs(), d.maxUpdateRetries(), 0));
      stores.add(touchAll);
      IMap<String, HazelcastJsonValue> map = ((HazelcastSessionStore) store).map();
      IMap<String, HazelcastJsonValue> raw = a.getMap(RAW_MAP);

      System.err.println("creating " + sessions + " sessions ...");
      List<String> ids = new ArrayList<>();
      for (int i = 0; i < sessions; i++) {
        ids.add("bench-" + i);
      }
      Pipelined.run(vertx, sessions, inflight, i -> store.create(ids.get(i), 3_600_000, null)
          .compose(c -> store.putVariable(ids.get(i), "x", 0)));
      List<String> owned = new ArrayList<>();
      List<String> remote = new ArrayList<>();
      Map<String, HazelcastJsonValue> values = new LinkedHashMap<>();
      for (String id : ids) {
        (a.getPartitionService().getPartition(id).getOwner().localMember() ? owned : remote).add(id);
        HazelcastJsonValue v = map.get(id);
        values.put(id, v);
        raw.set(id, v);
      }
      System.err.printf("%d sessions, %d with their primary on A, %d elsewhere; stored value %d characters%n",
          sessions, owned.size(), remote.size(), values.get(ids.get(0)).toString().length());

      List<Row> rows = new ArrayList<>();
      for (boolean onA : new boolean[] {true, false}) {
        List<String> keys = onA ? owned : remote;
        int k = keys.size();
        HazelcastJsonValue[] vs = keys.stream().map(values::get).toArray(HazelcastJsonValue[]::new);
        String[] ks = keys.toArray(String[]::new);
        rows.add(new Row("raw IMap.get (blocking)", onA, null, i -> map.get(ks[i % k]), false));
        rows.add(new Row("raw IMap.getAsync", onA,
            i -> HazelcastFutures.on(Vertx.currentContext(), map.getAsync(ks[i % k])), null, true));
        rows.add(new Row("raw IMap.getAsync, via Future.fromCompletionStage", onA,
            i -> Future.fromCompletionStage(map.getAsync(ks[i % k]), vertx.getOrCreateContext()), null, false));
        rows.add(new Row("store.get", onA, i -> store.get(ks[i % k]), null, true));
        rows.add(new Row("store.get, touch-granularity-ms 0", onA, i -> touchAll.get(ks[i % k]), null, false));
        rows.add(new Row("store.get, " + hot + " hot sessions", onA, i -> store.get(ks[i % hot]), null, false));
        rows.add(new Row("store.getVariable", onA, i -> store.getVariable(ks[i % k], "x"), null, true));
        rows.add(new Row("raw IMap.set (blocking)", onA, null, i -> raw.set(ks[i % k], vs[i % k]), false));
        rows.add(new Row("raw IMap.setAsync", onA,
            i -> HazelcastFutures.on(Vertx.currentContext(), raw.setAsync(ks[i % k], vs[i % k])), null, true));
        rows.add(new Row("store.putVariable", onA, i -> store.putVariable(ks[i % k], "x", i), null, true));
      }
      rows.removeIf(r -> filter != null && !filter.matcher(label(r)).find());

      Map<Row, Result> results = new LinkedHashMap<>();
      rows.forEach(r -> results.put(r, new Result()));
      System.err.println("warm-up ...");
      for (Row r : rows) {
        measure(vertx, r, Math.min(n, 3_000), members, null);
      }
      for (int round = 0; round < rounds; round++) {
        List<Row> order = new ArrayList<>(rows);
        if (round % 2 == 1) {
          java.util.Collections.reverse(order);
        }
        for (Row r : order) {
          measure(vertx, r, n, members, results.get(r));
        }
        for (Row r : order) {
          if (r.tput()) {
            long t0 = System.nanoTime();
            Pipelined.run(vertx, tputN, inflight, r.async());
            results.get(r).perSecond.add(tputN / ((System.nanoTime() - t0) / 1e9));
          }
        }
        System.err.printf("round %d of %d done%n", round + 1, rounds);
      }
      print(rows, results, sessions, owned.size(), n, rounds, inflight);
    } finally {
      for (SessionStore s : stores) {
        try {
          s.close().await();
        } catch (RuntimeException ignored) {
          // closing anyway
        }
      }
      for (HazelcastInstance m : members) {
        m.getLifecycleService().terminate();
      }
      vertx.close().await();
    }
  }

  private static String label(Row r) {
    return r.name() + (r.owned() ? " [primary A]" : " [primary elsewhere]");
  }

  private static Config config(String clusterName, int basePort, int index, int partitions) {
    Config c = new Config();
    c.setClusterName(clusterName);
    c.setInstanceName(clusterName + "-" + index);
    c.setProperty("hazelcast.phone.home.enabled", "false");
    c.setProperty("hazelcast.logging.type", "slf4j");
    c.setProperty("hazelcast.socket.bind.any", "false");
    c.setProperty("hazelcast.wait.seconds.before.join", "0");
    c.setProperty("hazelcast.max.wait.seconds.before.join", "0");
    c.setProperty("hazelcast.partition.count", String.valueOf(partitions));
    c.getNetworkConfig().setPort(basePort).setPortAutoIncrement(true).setPortCount(40);
    c.getNetworkConfig().getInterfaces().setEnabled(true).addInterface("127.0.0.1");
    var join = c.getNetworkConfig().getJoin();
    join.getAutoDetectionConfig().setEnabled(false);
    join.getMulticastConfig().setEnabled(false);
    join.getTcpIpConfig().setEnabled(true).setConnectionTimeoutSeconds(2);
    for (int p = basePort; p < basePort + 5; p++) {
      join.getTcpIpConfig().addMember("127.0.0.1:" + p);
    }
    HazelcastSessionStoreFactory.configure(c, new JsonObject()); // the session map, backup count 1
    c.addMapConfig(HazelcastSessionStoreFactory.mapConfig(RAW_MAP, 1)); // the same map settings, raw values
    return c;
  }

  private static SessionStore open(Vertx vertx, HazelcastInstance hz, String node, SessionLimits limits) {
    SessionSettings settings = new SessionSettings(node, new HybridLogicalClock(), limits, null, 1000, 60_000);
    return HazelcastSessionStoreFactory.create(vertx, settings, new JsonObject(), hz).await();
  }

  /** The map's put operations on all members: Hazelcast counts an entry processor that wrote as one put. */
  private static long puts(List<HazelcastInstance> members) {
    long sum = 0;
    for (HazelcastInstance m : members) {
      sum += m.getMap(HazelcastSessionStoreFactory.DEFAULT_MAP_NAME).getLocalMapStats().getPutOperationCount();
    }
    return sum;
  }

  /** {@code count} operations one at a time; their p50/p99 into {@code into} (unless warming up). */
  private static void measure(Vertx vertx, Row r, int count, List<HazelcastInstance> members, Result into)
      throws Exception {
    long[] lat = new long[count];
    long puts0 = puts(members);
    if (r.sync() != null) {
      for (int i = 0; i < count; i++) {
        long s = System.nanoTime();
        r.sync().accept(i);
        lat[i] = System.nanoTime() - s;
      }
    } else {
      Pipelined.run(vertx, count, 1, i -> {
        long s = System.nanoTime();
        return r.async().apply(i).onSuccess(v -> lat[i] = System.nanoTime() - s);
      });
    }
    if (into != null) {
      Stats st = Stats.of(lat);
      into.p50.add(st.p50());
      into.p99.add(st.p99());
      into.puts.add(puts(members) - puts0);
      into.ops.add(count);
    }
  }

  private static double median(List<Double> xs) {
    if (xs.isEmpty()) {
      return Double.NaN;
    }
    double[] s = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  /** The median over rounds of a row's per-round value divided by another row's of the same round. */
  private static double ratio(List<Double> a, List<Double> b) {
    List<Double> r = new ArrayList<>();
    for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
      r.add(a.get(i) / b.get(i));
    }
    return median(r);
  }

  private static Row find(List<Row> rows, String name, boolean owned) {
    return rows.stream().filter(r -> r.name().equals(name) && r.owned() == owned).findFirst().orElse(null);
  }

  private static void print(List<Row> rows, Map<Row, Result> results, int sessions, int owned, int n, int rounds,
                            int inflight) {
    System.out.printf("%n3 Hazelcast members in one JVM, loopback, backup count 1; %d sessions (%d with their "
        + "primary on A); all operations issued on A; %d one at a time per row and round, %d rounds "
        + "(medians of the per-round values)%n%n", sessions, owned, n, rounds);
    System.out.println("| operation, issued on member A | keys' primary | p50 µs | p99 µs | ops/s (" + inflight
        + " in flight) | map writes per op |");
    System.out.println("| --- | --- | ---: | ---: | ---: | ---: |");
    for (Row r : rows) {
      Result x = results.get(r);
      long puts = x.puts.stream().mapToLong(Long::longValue).sum();
      long ops = x.ops.stream().mapToLong(Integer::longValue).sum();
      System.out.printf("| %s | %s | %.0f | %.0f | %s | %.3f |%n", r.name(), r.owned() ? "A" : "B or C",
          median(x.p50), median(x.p99), r.tput() ? String.format("%.0f", median(x.perSecond)) : "",
          (double) puts / ops);
    }
    System.out.println();
    System.out.println("| ratio (median of per-round ratios) | primary A: p50 | p99 | ops/s | primary elsewhere: p50 "
        + "| p99 | ops/s |");
    System.out.println("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    String[][] pairs = {
        {"store.get", "raw IMap.getAsync"},
        {"store.get", "raw IMap.get (blocking)"},
        {"store.get, touch-granularity-ms 0", "raw IMap.getAsync"},
        {"store.get, " + Integer.getInteger("hot", 100) + " hot sessions", "raw IMap.getAsync"},
        {"store.getVariable", "raw IMap.getAsync"},
        {"store.putVariable", "raw IMap.setAsync"},
        {"store.putVariable", "raw IMap.set (blocking)"},
        {"raw IMap.getAsync", "raw IMap.get (blocking)"},
        {"raw IMap.getAsync, via Future.fromCompletionStage", "raw IMap.getAsync"},
    };
    for (String[] p : pairs) {
      StringBuilder line = new StringBuilder("| " + p[0] + " / " + p[1]);
      boolean any = false;
      for (boolean owned2 : new boolean[] {true, false}) {
        Row x = find(rows, p[0], owned2);
        Row y = find(rows, p[1], owned2);
        if (x == null || y == null) {
          line.append(" | | | ");
          continue;
        }
        any = true;
        Result rx = results.get(x);
        Result ry = results.get(y);
        line.append(String.format(" | %.2f× | %.2f× | %s", ratio(rx.p50, ry.p50), ratio(rx.p99, ry.p99),
            x.tput() && y.tput() ? String.format("%.2f×", ratio(rx.perSecond, ry.perSecond)) : ""));
      }
      if (any) {
        System.out.println(line.append(" |"));
      }
    }
    System.out.println();
    System.out.println("| elsewhere / on A (median of per-round ratios) | p50 | p99 | ops/s |");
    System.out.println("| --- | ---: | ---: | ---: |");
    for (Row r : rows) {
      if (!r.owned()) {
        continue;
      }
      Row o = find(rows, r.name(), false);
      if (o == null) {
        continue;
      }
      Result ra = results.get(r);
      Result ro = results.get(o);
      System.out.printf("| %s | %.2f× | %.2f× | %s |%n", r.name(), ratio(ro.p50, ra.p50), ratio(ro.p99, ra.p99),
          r.tput() ? String.format("%.2f×", ratio(ro.perSecond, ra.perSecond)) : "");
    }
    System.out.println();
    System.out.println("per-round p50 µs: ");
    for (Row r : rows) {
      System.out.printf("  %s: %s%n", label(r), fmt(results.get(r).p50));
    }
  }

  private static String fmt(List<Double> xs) {
    return Arrays.toString(xs.stream().mapToLong(Math::round).toArray());
  }
}
