package io.snakepit.tests;

import io.snakepit.tests.harness.Cluster;
import io.snakepit.tests.harness.NetworkNamespaces;
import io.snakepit.tests.harness.NodeProcess;
import io.snakepit.tests.harness.Poll;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * A cluster of node JVMs, one per network namespace ({@link NetworkNamespaces}),
 * clustered over the namespaces' bridge, each node on its own address. The
 * nodes find one another through a list of members, or through a DNS name
 * that resolves to all of them inside the namespaces, as a Kubernetes
 * headless service does. Removes everything it made when closed. Root only.
 */
final class NamespacedCluster implements AutoCloseable {

  static final Duration DEADLINE = Duration.ofSeconds(60);
  final NetworkNamespaces net;
  final Path root;
  final List<NodeProcess> nodes = new ArrayList<>();

  /** {@code n} nodes that join through a list of the others' addresses. */
  NamespacedCluster(int n, String... extraArgs) throws Exception {
    this(n, null, List.of(extraArgs));
  }

  /**
   * {@code n} nodes that join through {@code dnsName} ({@code --cluster-dns}),
   * which resolves to every node's address inside the namespaces.
   */
  static NamespacedCluster joiningThroughDns(int n, String dnsName, String... extraArgs) throws Exception {
    return new NamespacedCluster(n, dnsName, List.of(extraArgs));
  }

  private NamespacedCluster(int n, String dnsName, List<String> extraArgs) throws Exception {
    root = Files.createTempDirectory("snakepit-netns-");
    try {
      net = NetworkNamespaces.create(n);
    } catch (IOException | RuntimeException e) {
      deleteTree(root);
      throw e;
    }
    System.out.println("namespaced cluster network: " + net);
    try {
      if (dnsName != null) {
        net.resolveInside(dnsName);
      }
      start(n, dnsName, extraArgs);
    } catch (Exception | Error e) {
      close();
      throw e;
    }
  }

  private void start(int n, String dnsName, List<String> extraArgs) throws Exception {
    String name = "netns-" + Long.toHexString(System.nanoTime());
    Cluster.startTogether(n, k -> {
      StringBuilder members = new StringBuilder();
      for (int j = 0; j < n; j++) {
        if (j != k) {
          members.append(members.length() == 0 ? "" : ",").append(net.address(j)).append(":5701");
        }
      }
      List<String> args = new ArrayList<>(List.of("--cluster", "--cluster-host", net.address(k),
          "--cluster-port", "5701", "--host", net.address(k),
          "--set", "cluster-name=" + name, "--pool-size", "2",
          // Open on purpose: the nodes bind addresses of network namespaces only this test can reach.
          "--set", "security.insecure=true",
          // Every node holds every session (primary + backups), so each side of a split has them all.
          "--set", "sessions.hazelcast.backup-count=" + Math.min(6, n - 1)));
      args.addAll(dnsName == null ? List.of("--members", members.toString()) : List.of("--cluster-dns", dnsName));
      args.addAll(extraArgs);
      return NodeProcess.start(net.prefix(k), root.resolve("n" + (k + 1)), Cluster.DEADLINE,
          args.toArray(String[]::new));
    }, nodes);
    awaitRings(List.of(java.util.stream.IntStream.range(0, n).boxed().toList()));
  }

  NodeProcess node(int i) {
    return nodes.get(i);
  }

  /** Waits until each group's nodes see exactly that group in their ring. */
  void awaitRings(List<List<Integer>> groups) throws Exception {
    for (List<Integer> group : groups) {
      Set<String> ids = new HashSet<>();
      group.forEach(i -> ids.add(node(i).nodeId()));
      for (int i : group) {
        NodeProcess n = node(i);
        Poll.until(n.nodeId() + " sees the ring " + ids, DEADLINE,
            () -> new HashSet<>(Cluster.ring(n)).equals(ids));
      }
    }
  }

  @Override
  public void close() throws Exception {
    List<Exception> problems = new ArrayList<>();
    for (NodeProcess n : nodes) {
      try {
        n.close();
      } catch (RuntimeException e) {
        problems.add(e);
      }
    }
    if (net != null) {
      try {
        net.close();
      } catch (IOException e) {
        problems.add(e);
      }
    }
    deleteTree(root);
    if (!problems.isEmpty()) {
      Exception e = new IOException("cleanup failed");
      problems.forEach(e::addSuppressed);
      throw e;
    }
  }

  /** Every node's log, for a failure message. */
  String logs() {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < nodes.size(); i++) {
      String log = nodes.get(i).logText();
      b.append("\n--- n").append(i + 1).append(" (last 4000 chars) ---\n")
          .append(log.substring(Math.max(0, log.length() - 4000)));
    }
    return b.toString();
  }

  static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
