package io.snakepit.session.hazelcast;

import com.hazelcast.config.Config;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import io.snakepit.session.HybridLogicalClock;
import io.snakepit.session.SessionLimits;
import io.snakepit.session.SessionSettings;
import io.snakepit.session.SessionStore;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * Embedded Hazelcast members for tests: loopback only, TCP-IP join over a
 * random port range, multicast off, a unique cluster name, so that parallel
 * builds on one machine never meet.
 */
final class TestCluster implements AutoCloseable {

  static final String MAP = HazelcastSessionStoreFactory.DEFAULT_MAP_NAME;

  final String clusterName = "snakepit-test-" + UUID.randomUUID();
  final int basePort = 20_000 + ThreadLocalRandom.current().nextInt(240) * 50;
  final List<HazelcastInstance> members = new ArrayList<>();
  final List<SessionStore> stores = new ArrayList<>();
  private int configs;

  /** A member config: joins the others of this cluster by TCP-IP on loopback. */
  Config config(int backups) {
    Config c = new Config();
    c.setClusterName(clusterName);
    c.setInstanceName(clusterName + "-" + configs++);
    c.setProperty("hazelcast.phone.home.enabled", "false");
    c.setProperty("hazelcast.logging.type", "slf4j");
    c.setProperty("hazelcast.socket.bind.any", "false");
    c.setProperty("hazelcast.wait.seconds.before.join", "0");
    c.setProperty("hazelcast.max.wait.seconds.before.join", "0");
    c.setProperty("hazelcast.partition.count", "31");
    c.setProperty("hazelcast.graceful.shutdown.max.wait", "10");
    c.getNetworkConfig().setPort(basePort).setPortAutoIncrement(true).setPortCount(40);
    c.getNetworkConfig().getInterfaces().setEnabled(true).addInterface("127.0.0.1");
    var join = c.getNetworkConfig().getJoin();
    join.getAutoDetectionConfig().setEnabled(false);
    join.getMulticastConfig().setEnabled(false);
    join.getTcpIpConfig().setEnabled(true).setConnectionTimeoutSeconds(2);
    for (int p = basePort; p < basePort + 5; p++) {
      join.getTcpIpConfig().addMember("127.0.0.1:" + p);
    }
    HazelcastSessionStoreFactory.configure(c, MAP, backups);
    return c;
  }

  HazelcastInstance start(Config c) {
    HazelcastInstance hz = Hazelcast.newHazelcastInstance(c);
    members.add(hz);
    return hz;
  }

  /** Starts {@code n} members and waits until they all see each other. */
  TestCluster start(int n, int backups) {
    for (int i = 0; i < n; i++) {
      start(config(backups));
    }
    awaitSize(n);
    return this;
  }

  void awaitSize(int n) {
    await(() -> members.stream().filter(m -> m.getLifecycleService().isRunning())
        .allMatch(m -> m.getCluster().getMembers().size() == n), "cluster of " + n);
  }

  static SessionSettings settings(String node, SessionLimits limits) {
    return new SessionSettings(node, new HybridLogicalClock(), limits, null, 1000, 60_000);
  }

  SessionStore store(Vertx vertx, HazelcastInstance hz, SessionLimits limits) {
    SessionStore s = get(HazelcastSessionStoreFactory.create(vertx,
        settings("node-" + members.indexOf(hz), limits), new JsonObject(), hz));
    stores.add(s);
    return s;
  }

  static <T> T get(Future<T> f) {
    try {
      return f.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw new RuntimeException(e.getCause());
    } catch (Exception e) {
      throw new RuntimeException(e);
    }
  }

  /** Polls until the condition holds, for at most 60 s. */
  static void await(BooleanSupplier condition, String what) {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what);
      }
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
  }

  @Override
  public void close() {
    for (SessionStore s : stores) {
      try {
        get(s.close());
      } catch (RuntimeException ignored) {
        // the member may be gone already
      }
    }
    stores.clear();
    for (HazelcastInstance m : members) {
      m.getLifecycleService().terminate();
    }
    members.clear();
  }
}
