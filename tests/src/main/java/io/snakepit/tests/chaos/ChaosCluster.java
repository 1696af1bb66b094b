package io.snakepit.tests.chaos;

import io.snakepit.tests.harness.Cluster;
import io.snakepit.tests.harness.Http;
import io.snakepit.tests.harness.NetworkNamespaces;
import io.snakepit.tests.harness.NodeLogs;
import io.snakepit.tests.harness.NodeProcess;
import io.snakepit.tests.harness.Poll;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * The cluster a chaos run injures: node JVMs that can be killed, frozen,
 * drained and started again where their clients expect them (same data dir,
 * cluster port and HTTP port), on loopback or, for partitions, each in its
 * own network namespace. Remembers every process its nodes started, so that
 * the run can check that none outlives them.
 */
public final class ChaosCluster implements AutoCloseable {

  static final Duration DEADLINE = Duration.ofSeconds(90);

  private final Path root;
  private final NetworkNamespaces net;
  private final String name = "chaos-" + Long.toHexString(System.nanoTime());
  private final List<String> extraArgs;
  private final int size;
  private final int[] hzPorts;
  private final int[] httpPorts;
  private final NodeProcess[] nodes;
  private final String[] ids;
  /** Every process seen under a node JVM, and the JVMs themselves. */
  private final Set<ProcessHandle> seen = ConcurrentHashMap.newKeySet();
  private final Thread watcher;
  /** Each node's wall-clock offset in seconds, for the next time it starts. */
  private final long[] skewSeconds;
  /** The nodes' tmpfs data dirs, when the run fills disks; else null. */
  private NodeDisks disks;
  private volatile boolean closed;

  private ChaosCluster(int size, boolean namespaces, List<String> extraArgs) throws IOException {
    this.size = size;
    this.extraArgs = List.copyOf(extraArgs);
    this.root = Files.createTempDirectory("snakepit-chaos-");
    this.net = namespaces ? NetworkNamespaces.create(size) : null;
    this.hzPorts = new int[size];
    this.httpPorts = new int[size];
    this.nodes = new NodeProcess[size];
    this.ids = new String[size];
    this.skewSeconds = new long[size];
    for (int i = 0; i < size; i++) {
      // In a namespace each node has the whole port space to itself.
      hzPorts[i] = namespaces ? 5701 : Cluster.port();
      httpPorts[i] = namespaces ? 8080 : Cluster.port();
    }
    this.watcher = new Thread(this::watch, "chaos-process-watch");
    this.watcher.setDaemon(true);
  }

  /**
   * Starts {@code size} nodes, in network namespaces when {@code namespaces} (root only), and waits until
   * they form one cluster.
   */
  public static ChaosCluster start(int size, boolean namespaces, List<String> extraArgs) throws Exception {
    return start(size, namespaces, false, extraArgs);
  }

  /** As {@link #start(int, boolean, List)}, with each data dir on a small tmpfs of its own when {@code disks} (root). */
  public static ChaosCluster start(int size, boolean namespaces, boolean disks, List<String> extraArgs)
      throws Exception {
    ChaosCluster c = new ChaosCluster(size, namespaces, extraArgs);
    try {
      if (disks) {
        List<Path> dirs = new ArrayList<>();
        for (int i = 0; i < size; i++) {
          dirs.add(c.dataDir(i));
        }
        c.disks = NodeDisks.mount(dirs);
      }
      // Each starter files its node under its own index, so that a failed start still leaves the others to close.
      Cluster.startTogether(size, k -> {
        NodeProcess p = c.launch(k);
        c.nodes[k] = p;
        c.ids[k] = p.nodeId();
        return p;
      }, new ArrayList<>());
      c.watcher.start();
      c.awaitFormed();
    } catch (Exception | Error e) {
      c.close();
      throw e;
    }
    return c;
  }

  private NodeProcess launch(int i) throws IOException {
    StringBuilder members = new StringBuilder();
    for (int j = 0; j < size; j++) {
      if (j != i) {
        members.append(members.length() == 0 ? "" : ",").append(host(j)).append(':').append(hzPorts[j]);
      }
    }
    List<String> args = new ArrayList<>(List.of("--cluster", "--cluster-host", host(i), "--cluster-port",
        Integer.toString(hzPorts[i]), "--host", host(i), "--members", members.toString(),
        "--set", "cluster-name=" + name, "--pool-size", "2",
        // Open on purpose: in namespaces, the nodes bind addresses only this run can reach.
        "--set", "security.insecure=" + (net != null)));
    args.addAll(extraArgs);
    List<String> prefix = new ArrayList<>(net == null ? List.of() : net.prefix(i));
    prefix.addAll(ClockSkew.prefix(skewSeconds[i]));
    NodeProcess p = NodeProcess.start(prefix, dataDir(i), DEADLINE, httpPorts[i], 0, args.toArray(String[]::new));
    seen.add(p.process().toHandle());
    return p;
  }

  /** Node {@code i}'s data dir; the same across restarts. */
  Path dataDir(int i) {
    return root.resolve("n" + (i + 1));
  }

  /** Fills the disk under node {@code i}'s data dir; returns the bytes the filler took. */
  public long fillDisk(int i) throws IOException {
    if (disks == null) {
      throw new IllegalStateException("the cluster was started without disks of its own");
    }
    return NodeDisks.fill(dataDir(i));
  }

  /** Frees the disk under node {@code i}'s data dir again. */
  public void freeDisk(int i) throws IOException {
    NodeDisks.free(dataDir(i));
  }

  private String host(int i) {
    return net == null ? "127.0.0.1" : net.address(i);
  }

  public int size() {
    return size;
  }

  /** Whether this cluster can be partitioned (its nodes are in network namespaces). */
  public boolean partitionable() {
    return net != null;
  }

  /** The id of node {@code i} (a node keeps its id across restarts: it is kept in its data dir). */
  public String id(int i) {
    return ids[i];
  }

  /** The short name of node {@code i} in reports: n1, n2, ... */
  public static String label(int i) {
    return "n" + (i + 1);
  }

  /** Node {@code i}'s HTTP base URL; the same across restarts. */
  public String url(int i) {
    return "http://" + host(i) + ":" + httpPorts[i];
  }

  /** Node {@code i}'s current process. */
  public NodeProcess node(int i) {
    return nodes[i];
  }

  /** {@code SIGKILL}s node {@code i} and waits until its JVM is gone. */
  public void kill(int i) throws Exception {
    nodes[i].signal("KILL");
    Poll.until(label(i) + " is gone", DEADLINE, () -> !nodes[i].process().isAlive());
  }

  /** Sends node {@code i} {@code SIGTERM}: it drains (hands its sessions off) and exits; waits for that. */
  public void drain(int i) throws Exception {
    nodes[i].signal("TERM");
    Poll.until(label(i) + " has drained and exited", DEADLINE, () -> !nodes[i].process().isAlive());
  }

  /** Freezes ({@code SIGSTOP}) or wakes ({@code SIGCONT}) node {@code i}'s JVM. Its workers run on. */
  public void freeze(int i, boolean frozen) throws Exception {
    nodes[i].signal(frozen ? "STOP" : "CONT");
  }

  /** Starts node {@code i} again on its data dir and ports, and waits for it to be ready. */
  public void restart(int i) throws Exception {
    restart(i, 0);
  }

  /** As {@link #restart(int)}, with its wall clock {@code skewSeconds} off ({@link ClockSkew}); 0 sets it right. */
  public void restart(int i, long skewSeconds) throws Exception {
    this.skewSeconds[i] = skewSeconds;
    nodes[i] = launch(i);
  }

  /** Cuts every link between the nodes of {@code a} and those of {@code b}. */
  public void partition(Collection<Integer> a, Collection<Integer> b) throws IOException {
    net.partition(a, b);
  }

  /** Removes every partition. */
  public void heal() throws IOException {
    net.heal();
  }

  /** Waits until every node sees all of them in its ring and reports its cluster safe. */
  public void awaitFormed() throws Exception {
    awaitFormed(DEADLINE);
  }

  /** As {@link #awaitFormed()}, within {@code deadline}. */
  public void awaitFormed(Duration deadline) throws Exception {
    for (int i = 0; i < size; i++) {
      int k = i;
      Poll.until(label(i) + " sees all " + size + " nodes and reports its cluster safe", deadline, () -> whole(k));
    }
  }

  /**
   * Whether node {@code i} sees every node in its ring, its Hazelcast member sees every member, and it reports
   * its cluster safe (no migration running, backups in sync).
   */
  public boolean whole(int i) throws Exception {
    if (Cluster.ring(nodes[i]).size() != size) {
      return false;
    }
    // The ring is heard over the event bus, which a woken node reaches before Hazelcast has merged it back:
    // its store's members say whether it has.
    JsonObject store = Http.getJson(url(i) + "/health/sessions").getJsonObject("store", new JsonObject());
    return store.getInteger("members", 0) == size && store.getBoolean("cluster-safe", false);
  }

  /** The pids of node {@code i}'s Python workers, from {@code GET /v1/workers}. */
  public List<Long> workerPids(int i) throws Exception {
    List<Long> pids = new ArrayList<>();
    Http.getJson(url(i) + "/v1/workers").getJsonArray("workers").forEach(w -> {
      Object pid = ((JsonObject) w).getValue("pid");
      if (pid instanceof Number n) {
        pids.add(n.longValue());
      }
    });
    return pids;
  }

  private void watch() {
    while (!closed) {
      for (NodeProcess p : nodes) {
        if (p != null) {
          p.process().toHandle().descendants().forEach(seen::add);
        }
      }
      try {
        Thread.sleep(500); // a sampling period, not a synchronisation
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  /**
   * Ends every node ({@code SIGTERM}, then {@code SIGKILL} for one that does not exit), and describes every
   * process the nodes started that is still alive {@code grace} later: what the run left behind.
   */
  public List<String> stopAll(Duration grace) throws Exception {
    closed = true;
    watcher.interrupt();
    watcher.join(10_000);
    for (NodeProcess p : nodes) {
      if (p != null) {
        p.process().toHandle().descendants().forEach(seen::add);
        if (p.process().isAlive()) {
          p.signal("CONT");
          p.signal("TERM");
        }
      }
    }
    for (NodeProcess p : nodes) {
      if (p != null && !p.process().waitFor(DEADLINE.toSeconds(), java.util.concurrent.TimeUnit.SECONDS)) {
        p.close();
      }
    }
    long until = System.nanoTime() + grace.toNanos();
    while (System.nanoTime() < until && seen.stream().anyMatch(ProcessHandle::isAlive)) {
      Thread.sleep(100); // polling the process table, with a deadline
    }
    List<String> left = new ArrayList<>();
    for (ProcessHandle h : seen) {
      if (h.isAlive()) {
        left.add(h.pid() + " " + h.info().commandLine().orElse("?"));
      }
    }
    return left;
  }

  /** Copies each node's log (all its runs) into {@code dir} as {@code n1.log}, ... */
  public void saveLogs(Path dir) throws IOException {
    for (int i = 0; i < size; i++) {
      if (nodes[i] != null) {
        Files.writeString(dir.resolve(label(i) + ".log"), nodes[i].logText());
      }
    }
  }

  @Override
  public void close() throws Exception {
    closed = true;
    watcher.interrupt();
    for (int i = 0; i < size; i++) {
      if (nodes[i] != null) {
        nodes[i].close();
        NodeLogs.keep(label(i) + "-" + ids[i], nodes[i].logText());
      }
    }
    // Whatever the run left behind is reported by stopAll; here it is only ended.
    seen.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
    if (net != null) {
      net.close();
    }
    if (disks != null) {
      disks.close();
    }
    try (Stream<Path> walk = Files.walk(root)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
