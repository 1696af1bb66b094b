package io.snakepit.tests.bench;

import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import io.snakepit.session.hazelcast.HazelcastSessionStoreFactory;
import io.vertx.core.json.JsonObject;

/**
 * A plain Hazelcast data member for a benchmark, in its own JVM so that the data it holds is not in the
 * measured heap: the session map and its serialization factory as {@link HazelcastSessionStoreFactory#configure}
 * sets them up (backup count 0), loopback only. Prints {@code READY} once started; exits when its standard input
 * closes (the benchmark that started it has ended, also when it was killed). Arguments: cluster name, port.
 */
public final class BenchHazelcastMember {

  private BenchHazelcastMember() {
  }

  public static void main(String[] args) throws Exception {
    String clusterName = args[0];
    int port = Integer.parseInt(args[1]);
    HazelcastInstance hz = Hazelcast.newHazelcastInstance(config(clusterName, port, false));
    System.out.println("READY " + hz.getCluster().getLocalMember().getAddress());
    System.out.flush();
    try {
      while (System.in.read() >= 0) {
        // until the parent closes the pipe
      }
    } finally {
      hz.getLifecycleService().terminate();
      System.exit(0);
    }
  }

  /** The member's configuration; a lite member (no data) for {@code lite}, joining the data member on {@code port}. */
  static Config config(String clusterName, int port, boolean lite) {
    Config c = new Config();
    c.setClusterName(clusterName);
    c.setInstanceName(clusterName + (lite ? "-lite" : "-data"));
    c.setLiteMember(lite);
    c.setProperty("hazelcast.phone.home.enabled", "false");
    c.setProperty("hazelcast.logging.type", "slf4j");
    c.setProperty("hazelcast.socket.bind.any", "false");
    c.setProperty("hazelcast.wait.seconds.before.join", "0");
    c.setProperty("hazelcast.max.wait.seconds.before.join", "0");
    JoinConfig join = HazelcastSessionStoreFactory.memberNetwork(c, lite ? port + 1 : port, lite, "127.0.0.1", null);
    join.getAutoDetectionConfig().setEnabled(false);
    join.getTcpIpConfig().setEnabled(true).setConnectionTimeoutSeconds(5).addMember("127.0.0.1:" + port);
    HazelcastSessionStoreFactory.configure(c, new JsonObject().put("backup-count", 0));
    return c;
  }
}
