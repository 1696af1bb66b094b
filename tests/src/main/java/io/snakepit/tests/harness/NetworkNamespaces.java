package io.snakepit.tests.harness;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A small private network for one test (root only): a Linux bridge with an
 * address in the root namespace, and one network namespace per host, each
 * joined to the bridge by a veth pair, with its own address in a private
 * /24 and its loopback up. The test JVM reaches every host through the
 * bridge; the hosts reach one another, until {@link #partition} makes some of
 * them unable to (iptables rules inside the namespaces drop the traffic
 * to and from the other side's addresses) and {@link #heal} lets them again.
 *
 * <p>Every name starts with {@value #PREFIX}, then this JVM's pid (6 hex
 * digits) and a per-JVM counter, so that runs never collide, and so that a
 * crashed run's leftovers (whose pid is gone) can be recognised and removed
 * when the next one starts. {@link #close()} removes everything this
 * instance made — processes in its namespaces, rules, namespaces (with their
 * {@code /etc/netns} files), veths and the bridge — and is safe to call after a partial setup.
 *
 * <p>Traffic stays between these namespaces and the root namespace: the
 * subnet is a /24 of {@code 10.213.0.0/16} that no interface or route on the
 * machine uses, and nothing here addresses anything outside it.
 */
public final class NetworkNamespaces implements AutoCloseable {

  public static final String PREFIX = "sppt";
  private static final Pattern OURS = Pattern.compile("^" + PREFIX + "([0-9a-f]{6})[0-9a-f]");
  private static final AtomicInteger INSTANCES = new AtomicInteger();
  private static final String CHAIN = "SPPT_PARTITION";
  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(30);

  private final String id;
  private final String subnet; // "10.213.Y"
  private final int size;
  private final List<String> namespaces = new ArrayList<>();
  private final List<String> hostVeths = new ArrayList<>();
  private boolean bridgeMade;
  private boolean forwardRuleMade;

  /** The result of a command: exit code and combined output. */
  public record Result(int exitCode, String output) {
    public boolean ok() {
      return exitCode == 0;
    }
  }

  private NetworkNamespaces(String id, String subnet, int size) {
    this.id = id;
    this.subnet = subnet;
    this.size = size;
  }

  /**
   * Why this machine cannot build namespaces, or {@code null} if it can: the
   * caller must be root, {@code ip netns} must work, and iptables must be installed.
   */
  public static String unavailableReason() {
    try {
      Result uid = run(List.of("id", "-u"));
      if (!uid.ok() || !uid.output().trim().equals("0")) {
        return "network namespaces need root (uid is " + uid.output().trim() + ")";
      }
      Result netns = run(List.of("ip", "netns", "list"));
      if (!netns.ok()) {
        return "'ip netns' does not work here: " + netns.output().trim();
      }
    } catch (IOException e) {
      return "cannot run 'ip' (iproute2): " + e.getMessage();
    }
    try {
      if (!run(List.of("iptables", "--version")).ok()) {
        return "iptables does not work here";
      }
    } catch (IOException e) {
      return "iptables is not installed (Debian package iptables; .ci/run installs it)";
    }
    return null;
  }

  /** Builds a bridge and {@code n} namespaces on it, after removing a crashed run's leftovers. */
  public static NetworkNamespaces create(int n) throws IOException {
    if (n < 1 || n > 99) {
      throw new IllegalArgumentException("1..99 namespaces, not " + n);
    }
    removeLeftovers();
    String id = PREFIX + String.format("%06x", ProcessHandle.current().pid() & 0xffffff)
        + Integer.toHexString(INSTANCES.getAndIncrement() & 0xf);
    NetworkNamespaces net = new NetworkNamespaces(id, freeSubnet(), n);
    try {
      net.build();
    } catch (IOException | RuntimeException e) {
      net.close();
      throw e;
    }
    return net;
  }

  private void build() throws IOException {
    String bridge = bridgeName();
    must("ip", "link", "add", bridge, "type", "bridge");
    bridgeMade = true;
    must("ip", "addr", "add", bridgeAddress() + "/24", "dev", bridge);
    must("ip", "link", "set", bridge, "up");
    // Traffic between the hosts crosses the bridge, and so the root namespace's FORWARD chain when
    // br_netfilter is loaded. A Docker engine loads it and sets that chain's policy to DROP (once dockerd has
    // run, until the machine restarts): NetworkNamespacesTest failed "host 1 reaches host 0" after
    // docker/test-cluster.sh. This rule lets the bridge's own traffic through whatever the policy.
    must(forwardRule("-I"));
    forwardRuleMade = true;
    for (int i = 0; i < size; i++) {
      String ns = id + "-" + i;
      must("ip", "netns", "add", ns);
      namespaces.add(ns);
      String host = id + "h" + i;
      String peer = id + "n" + i;
      must("ip", "link", "add", host, "type", "veth", "peer", "name", peer);
      hostVeths.add(host);
      must("ip", "link", "set", host, "master", bridge);
      must("ip", "link", "set", host, "up");
      must("ip", "link", "set", peer, "netns", ns);
      mustIn(i, "ip", "link", "set", "lo", "up");
      mustIn(i, "ip", "link", "set", peer, "name", "eth0");
      mustIn(i, "ip", "addr", "add", address(i) + "/24", "dev", "eth0");
      mustIn(i, "ip", "link", "set", "eth0", "up");
      // One chain holds the partition's rules, so that healing is one flush.
      mustIn(i, "iptables", "-w", "-N", CHAIN);
      mustIn(i, "iptables", "-w", "-A", "INPUT", "-j", CHAIN);
      mustIn(i, "iptables", "-w", "-A", "OUTPUT", "-j", CHAIN);
    }
  }

  /** How many namespaces (hosts) this network has. */
  public int size() {
    return size;
  }

  /** The name of namespace {@code i}. */
  public String namespace(int i) {
    return namespaces.get(i);
  }

  /** The address of host {@code i}, e.g. {@code 10.213.7.11}. */
  public String address(int i) {
    return subnet + "." + (11 + i);
  }

  /** The bridge's address in the root namespace, where the test JVM is. */
  public String bridgeAddress() {
    return subnet + ".1";
  }

  public String bridgeName() {
    return id + "br";
  }

  /** The command prefix that runs a command inside namespace {@code i}. */
  public List<String> prefix(int i) {
    return resolve(List.of("ip", "netns", "exec", namespace(i)));
  }

  /**
   * Makes {@code name} resolve, inside every namespace, to the addresses of
   * all hosts, as a Kubernetes headless service's name resolves to its pods.
   * {@code ip netns exec} mounts {@code /etc/netns/NS/hosts} over
   * {@code /etc/hosts} for the commands it runs, so only processes started
   * after this call see the name; the machine's own {@code /etc/hosts} is
   * copied in first and never changed. Removed by {@link #close()}.
   */
  public void resolveInside(String name) throws IOException {
    if (!name.matches("[A-Za-z0-9][A-Za-z0-9.-]*")) {
      throw new IllegalArgumentException("not a host name: " + name);
    }
    Path system = Path.of("/etc/hosts");
    StringBuilder hosts = new StringBuilder(Files.exists(system) ? Files.readString(system) : "127.0.0.1 localhost\n");
    hosts.append("\n# ").append(id).append(": every host of the test network\n");
    for (int i = 0; i < size; i++) {
      hosts.append(address(i)).append(' ').append(name).append('\n');
    }
    for (String ns : namespaces) {
      Path dir = etcDir(ns);
      Files.createDirectories(dir);
      Files.writeString(dir.resolve("hosts"), hosts);
    }
  }

  /** Where {@code ip netns exec} finds files to mount over {@code /etc} in namespace {@code ns}. */
  private static Path etcDir(String ns) {
    return Path.of("/etc/netns", ns);
  }

  /** Runs a command inside namespace {@code i} and waits for it. */
  public Result exec(int i, String... command) throws IOException {
    List<String> cmd = new ArrayList<>(prefix(i));
    cmd.addAll(resolve(List.of(command)));
    return run(cmd);
  }

  /**
   * Makes every host in {@code a} unable to reach every host in {@code b} and
   * back (both directions are dropped on both sides, as a cut cable would).
   * Every host stays reachable from the root namespace. Adds to any partition
   * already in place.
   */
  public void partition(Collection<Integer> a, Collection<Integer> b) throws IOException {
    Set<Integer> left = new LinkedHashSet<>(a);
    Set<Integer> right = new LinkedHashSet<>(b);
    for (int i : left) {
      if (right.contains(i)) {
        throw new IllegalArgumentException("host " + i + " is on both sides");
      }
    }
    for (int i : left) {
      for (int j : right) {
        cut(i, j);
        cut(j, i);
      }
    }
  }

  private void cut(int from, int to) throws IOException {
    mustIn(from, "iptables", "-w", "-A", CHAIN, "-s", address(to), "-j", "DROP");
    mustIn(from, "iptables", "-w", "-A", CHAIN, "-d", address(to), "-j", "DROP");
  }

  /** Removes every partition: all hosts reach one another again. */
  public void heal() throws IOException {
    for (int i = 0; i < namespaces.size(); i++) {
      mustIn(i, "iptables", "-w", "-F", CHAIN);
    }
  }

  /** The partition rules in namespace {@code i}, as {@code iptables -S} prints them. */
  public String rules(int i) throws IOException {
    return mustIn(i, "iptables", "-w", "-S", CHAIN);
  }

  /**
   * Removes everything this instance made: the processes still running in its
   * namespaces (SIGKILL), the namespaces with their rules, the veths and the bridge.
   * Goes on past failures and reports them at the end.
   */
  @Override
  public void close() throws IOException {
    List<String> problems = new ArrayList<>();
    for (String ns : namespaces) {
      problems.addAll(removeNamespace(ns));
    }
    namespaces.clear();
    for (String veth : hostVeths) {
      // Gone with its peer's namespace, usually; remove it if not.
      removeLink(veth, problems);
    }
    hostVeths.clear();
    if (forwardRuleMade) {
      Result r = run(List.of(forwardRule("-D")));
      if (!r.ok()) {
        problems.add("iptables -D FORWARD for " + bridgeName() + ": " + r.output().trim());
      }
    }
    forwardRuleMade = false;
    if (bridgeMade) {
      removeLink(bridgeName(), problems);
    }
    bridgeMade = false;
    if (!problems.isEmpty()) {
      throw new IOException("cleaning up " + id + ": " + String.join("; ", problems));
    }
  }

  /**
   * Deletes a link if it is there. The kernel removes a veth asynchronously when
   * its peer's namespace goes, so a delete may find it gone between the check and
   * the command: only a link that is still there afterwards is a problem.
   */
  private static void removeLink(String name, List<String> problems) throws IOException {
    if (linkExists(name)) {
      Result r = run(List.of("ip", "link", "del", name));
      if (!r.ok() && linkExists(name)) {
        problems.add("ip link del " + name + ": " + r.output().trim());
      }
    }
  }

  private static List<String> removeNamespace(String ns) throws IOException {
    List<String> problems = new ArrayList<>();
    Result pids = run(List.of("ip", "netns", "pids", ns));
    if (pids.ok()) {
      for (String pid : pids.output().trim().split("\\s+")) {
        if (!pid.isEmpty()) {
          ProcessHandle.of(Long.parseLong(pid)).ifPresent(ProcessHandle::destroyForcibly);
        }
      }
      for (String pid : pids.output().trim().split("\\s+")) {
        if (!pid.isEmpty()) {
          ProcessHandle.of(Long.parseLong(pid)).ifPresent(p -> {
            try {
              p.onExit().get(10, TimeUnit.SECONDS);
            } catch (Exception e) {
              problems.add("process " + pid + " in " + ns + " did not end");
            }
          });
        }
      }
    }
    Result del = run(List.of("ip", "netns", "del", ns));
    if (!del.ok() && namespaceExists(ns)) {
      problems.add("ip netns del " + ns + ": " + del.output().trim());
    }
    Path etc = etcDir(ns);
    if (Files.isDirectory(etc)) {
      try (var files = Files.list(etc)) {
        for (Path f : files.toList()) {
          Files.deleteIfExists(f);
        }
      }
      Files.deleteIfExists(etc);
    }
    return problems;
  }

  /** The root namespace's rule that accepts the bridge's own forwarded traffic; {@code op} adds or deletes it. */
  private String[] forwardRule(String op) {
    return new String[] {"iptables", "-w", op, "FORWARD", "-i", bridgeName(), "-o", bridgeName(), "-j", "ACCEPT"};
  }

  /** Removes namespaces and links of earlier runs (our prefix) whose JVM is gone. */
  static void removeLeftovers() throws IOException {
    long self = ProcessHandle.current().pid() & 0xffffff;
    Result list = run(List.of("ip", "netns", "list"));
    for (String line : list.output().split("\n")) {
      String ns = line.trim().split("\\s+")[0];
      if (isLeftover(ns, self)) {
        removeNamespace(ns);
      }
    }
    // A namespace's /etc/netns files outlive it when a run crashed between the two removals.
    if (Files.isDirectory(Path.of("/etc/netns"))) {
      try (var dirs = Files.list(Path.of("/etc/netns"))) {
        for (Path d : dirs.toList()) {
          String ns = d.getFileName().toString();
          if (isLeftover(ns, self) && !namespaceExists(ns)) {
            removeNamespace(ns);
          }
        }
      }
    }
    // "-A FORWARD -i sppt00abcd0br -o sppt00abcd0br -j ACCEPT": a crashed run's rule for its bridge.
    for (String rule : run(List.of("iptables", "-w", "-S", "FORWARD")).output().split("\n")) {
      String[] words = rule.trim().split("\\s+");
      if (words.length == 8 && words[0].equals("-A") && words[2].equals("-i") && isLeftover(words[3], self)) {
        List<String> delete = new ArrayList<>(List.of("iptables", "-w", "-D"));
        delete.addAll(List.of(words).subList(1, words.length));
        run(delete);
      }
    }
    Result links = run(List.of("ip", "-o", "link", "show"));
    for (String line : links.output().split("\n")) {
      // "12: sppt00abcd0br: <...>" or "13: sppt00abcd0h0@if12: <...>"
      String[] parts = line.split(":\\s+", 3);
      if (parts.length >= 2) {
        String name = parts[1].split("@")[0];
        if (isLeftover(name, self)) {
          run(List.of("ip", "link", "del", name));
        }
      }
    }
  }

  private static boolean isLeftover(String name, long selfPid) {
    Matcher m = OURS.matcher(name);
    if (!m.find()) {
      return false;
    }
    long pid = Long.parseLong(m.group(1), 16);
    if (pid == selfPid) {
      return false; // this JVM's own, possibly in use by another test
    }
    // Only the 24 low bits of the pid are in the name; a live process that matches is left alone.
    return ProcessHandle.allProcesses().noneMatch(p -> (p.pid() & 0xffffff) == pid);
  }

  private static String freeSubnet() throws IOException {
    String used = run(List.of("ip", "-4", "-o", "addr", "show")).output()
        + run(List.of("ip", "-4", "route", "show", "table", "all")).output();
    for (int attempt = 0; attempt < 200; attempt++) {
      String candidate = "10.213." + ThreadLocalRandom.current().nextInt(1, 255);
      if (!used.contains(candidate + ".")) {
        return candidate;
      }
    }
    throw new IOException("no free /24 in 10.213.0.0/16");
  }

  private static boolean linkExists(String name) throws IOException {
    return run(List.of("ip", "link", "show", name)).ok();
  }

  private static boolean namespaceExists(String ns) throws IOException {
    for (String line : run(List.of("ip", "netns", "list")).output().split("\n")) {
      if (line.trim().split("\\s+")[0].equals(ns)) {
        return true;
      }
    }
    return false;
  }

  private String mustIn(int i, String... command) throws IOException {
    Result r = exec(i, command);
    if (!r.ok()) {
      throw new IOException("in " + namespace(i) + ": " + String.join(" ", command) + " exited with "
          + r.exitCode() + ": " + r.output().trim());
    }
    return r.output();
  }

  private static String must(String... command) throws IOException {
    Result r = run(List.of(command));
    if (!r.ok()) {
      throw new IOException(String.join(" ", command) + " exited with " + r.exitCode() + ": " + r.output().trim());
    }
    return r.output();
  }

  /** {@code ip} and {@code iptables} live in /usr/sbin, which a non-login PATH may lack. */
  private static List<String> resolve(List<String> command) {
    String tool = command.get(0);
    if (!tool.contains("/")) {
      for (String dir : List.of("/usr/sbin", "/sbin")) {
        if (java.nio.file.Files.isExecutable(java.nio.file.Path.of(dir, tool))) {
          List<String> resolved = new ArrayList<>(command);
          resolved.set(0, dir + "/" + tool);
          return resolved;
        }
      }
    }
    return command;
  }

  /** Runs a command in the root namespace and waits for it (at most 30 s). */
  static Result run(List<String> command) throws IOException {
    Process p = new ProcessBuilder(resolve(command)).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.PIPE)
        .start();
    p.getOutputStream().close();
    try {
      // Our commands print little; reading to the end before waiting cannot block on a full pipe.
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(COMMAND_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        throw new IOException(String.join(" ", command) + " did not finish within " + COMMAND_TIMEOUT);
      }
      return new Result(p.exitValue(), out);
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted running " + String.join(" ", command), e);
    }
  }

  @Override
  public String toString() {
    return "NetworkNamespaces{" + id + ", " + subnet + ".0/24, " + size + " hosts}";
  }
}
