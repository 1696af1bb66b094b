package io.snakepit.tests.harness;

import io.snakepit.embed.JoinOptions;
import io.snakepit.embed.SnakepitCluster;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Several nodes as separate JVMs forming a real cluster on loopback: each its
 * own Hazelcast port, event-bus port, data directory and Python workers. Ends
 * every node and removes every directory when closed.
 */
public final class Cluster implements AutoCloseable {

  public static final Duration DEADLINE = Duration.ofSeconds(90);

  private final Path root;
  private final List<NodeProcess> nodes = new ArrayList<>();
  private final List<Integer> hzPorts = new ArrayList<>();
  private final String name;
  private final String[] extraArgs;

  public Cluster(String... extraArgs) throws IOException {
    this.root = Files.createTempDirectory("snakepit-cluster-");
    this.name = "test-" + Long.toHexString(System.nanoTime());
    this.extraArgs = extraArgs;
  }

  /** Starts {@code n} nodes and waits until every one sees all of them in its ring. */
  public Cluster start(int n) throws Exception {
    for (int i = 0; i < n; i++) {
      hzPorts.add(freePort());
    }
    try {
      // Nodes start together, as a real cluster's would.
      startTogether(n, k -> startNode(k, hzPorts), nodes);
      awaitRing(nodes.size());
    } catch (Exception | Error e) {
      // The caller's try-with-resources never gets this cluster to close: end the nodes that did start.
      close();
      throw e;
    }
    return this;
  }

  /** Starts node {@code i} of a cluster. */
  @FunctionalInterface
  public interface NodeStarter {
    NodeProcess start(int i) throws Exception;
  }

  /**
   * Starts {@code n} nodes at once, one thread each, and adds those that
   * started to {@code into} (so that the caller can end them even when
   * another failed); then throws the first failure, if any.
   */
  public static void startTogether(int n, NodeStarter starter, List<NodeProcess> into) throws Exception {
    NodeProcess[] started = new NodeProcess[n];
    Exception[] failure = new Exception[1];
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int k = i;
      Thread t = new Thread(() -> {
        try {
          started[k] = starter.start(k);
        } catch (Exception e) {
          synchronized (failure) {
            if (failure[0] == null) {
              failure[0] = e;
            }
          }
        }
      }, "start-n" + (k + 1));
      t.start();
      threads.add(t);
    }
    for (Thread t : threads) {
      t.join();
    }
    for (NodeProcess p : started) {
      if (p != null) {
        into.add(p);
      }
    }
    if (failure[0] != null) {
      throw failure[0];
    }
  }

  /** Starts one more node that joins the running ones. */
  public NodeProcess join() throws Exception {
    int port = freePort();
    List<Integer> members = new ArrayList<>(hzPorts);
    hzPorts.add(port);
    NodeProcess p = startNode(hzPorts.size() - 1, members.isEmpty() ? List.of(port) : members);
    nodes.add(p);
    return p;
  }

  private NodeProcess startNode(int index, List<Integer> memberPorts) throws IOException {
    int port = hzPorts.get(index);
    StringBuilder members = new StringBuilder();
    for (int p : memberPorts) {
      if (p != port) {
        members.append(members.length() == 0 ? "" : ",").append("127.0.0.1:").append(p);
      }
    }
    List<String> args = new ArrayList<>(List.of("--cluster", "--cluster-host", "127.0.0.1", "--cluster-port",
        Integer.toString(port), "--set", "cluster-name=" + name, "--pool-size", "2"));
    if (members.length() > 0) {
      args.add("--members");
      args.add(members.toString());
    }
    args.addAll(List.of(extraArgs));
    return NodeProcess.start(root.resolve("node-" + index), DEADLINE, args.toArray(String[]::new));
  }

  /** Waits until every live node's ring has {@code size} members. */
  public void awaitRing(int size) throws Exception {
    for (NodeProcess n : nodes) {
      if (n.process().isAlive()) {
        Poll.until(n.nodeId() + " sees a ring of " + size, DEADLINE,
            () -> ring(n).size() == size);
      }
    }
  }

  /**
   * Waits until every live node's store reports its Hazelcast cluster safe
   * ({@code /health/sessions}: no migration running, every backup in sync
   * with its primary). Before that, a write may be acknowledged while the
   * backup that should hold it is still being synced, and a crash of its
   * primary then loses it (docs/cluster.md, "What survives what"): a test
   * that injects a fault to check that nothing acknowledged is lost waits
   * for this first, as an operator waits before taking the next node down.
   */
  public void awaitSafe() throws Exception {
    for (NodeProcess n : nodes) {
      if (n.process().isAlive()) {
        Poll.until(n.nodeId() + " reports its cluster safe", DEADLINE, () -> Http.getJson(n.baseUrl()
            + "/health/sessions").getJsonObject("store", new JsonObject()).getBoolean("cluster-safe", false));
      }
    }
  }

  public static List<String> ring(NodeProcess n) throws Exception {
    JsonObject view = Http.getJson(n.baseUrl() + "/v1/cluster");
    List<String> ring = new ArrayList<>();
    view.getJsonArray("ring").forEach(r -> ring.add((String) r));
    return ring;
  }

  /**
   * A clustered Vert.x in this JVM that joins the cluster as an application does, through the public
   * {@link SnakepitCluster#join} (a Hazelcast lite member: it holds no data, so the nodes own all of it, as in
   * production). The caller closes it, which leaves the cluster.
   */
  public io.vertx.core.Vertx joinAsApplication() throws Exception {
    return joinAsApplication(bus -> { });
  }

  /**
   * As {@link #joinAsApplication()}, with the event bus's options set by {@code bus} too: its TLS,
   * for a cluster whose bus speaks it ({@code cluster-tls-*}).
   */
  public io.vertx.core.Vertx joinAsApplication(java.util.function.Consumer<io.vertx.core.eventbus.EventBusOptions> bus)
      throws Exception {
    io.vertx.core.VertxOptions options = new io.vertx.core.VertxOptions();
    bus.accept(options.getEventBusOptions());
    return SnakepitCluster.join(joinOptions().setVertxOptions(options)).await().vertx();
  }

  /** What an application passes to {@link SnakepitCluster#join} to join this cluster on loopback. */
  public JoinOptions joinOptions() {
    return new JoinOptions().setMembers(members()).setClusterName(name).setHost("127.0.0.1");
  }

  /** The cluster's name, for a member that joins from outside (a benchmark, a client application). */
  public String name() {
    return name;
  }

  /** HOST:PORT of every node's Hazelcast member. */
  public List<String> members() {
    List<String> out = new ArrayList<>();
    hzPorts.forEach(p -> out.add("127.0.0.1:" + p));
    return out;
  }

  /** A free local port. */
  public static int port() throws IOException {
    return freePort();
  }

  public List<NodeProcess> nodes() {
    return nodes;
  }

  /**
   * Whether Hazelcast split {@code survivors} from one another: one of them
   * suspected another of being dead (a log line naming that member's port).
   */
  public boolean hazelcastSplit(List<NodeProcess> survivors) {
    for (NodeProcess s : survivors) {
      for (String line : s.logText().split("\n")) {
        if (!line.contains("is suspected to be dead") && !line.contains("Suspecting Member")) {
          continue;
        }
        for (NodeProcess other : survivors) {
          if (other != s && line.contains("Member [127.0.0.1]:" + hzPorts.get(nodes.indexOf(other)) + " ")) {
            return true;
          }
        }
      }
    }
    return false;
  }

  public NodeProcess node(int i) {
    return nodes.get(i);
  }

  /** The live node with this id. */
  public NodeProcess byId(String id) {
    return nodes.stream().filter(n -> n.nodeId().equals(id)).findFirst().orElseThrow();
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Override
  public void close() throws Exception {
    for (NodeProcess n : nodes) {
      n.close();
      NodeLogs.keep(n.nodeId(), n.logText());
    }
    try (Stream<Path> walk = Files.walk(root)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
