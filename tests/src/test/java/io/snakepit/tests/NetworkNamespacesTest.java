package io.snakepit.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.snakepit.tests.harness.NetworkNamespaces;
import io.snakepit.tests.harness.Poll;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The namespace harness on its own, with plain processes (Python's http.server)
 * instead of nodes: reachability from the root namespace and between hosts, a
 * partition and its heal, and the removal of everything, leftovers included.
 * Root only; skipped otherwise.
 */
class NetworkNamespacesTest {

  static final Duration DEADLINE = Duration.ofSeconds(30);
  static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  @BeforeAll
  static void needsNamespaces() {
    String why = NetworkNamespaces.unavailableReason();
    assumeTrue(why == null, () -> "skipped: " + why);
  }

  /** Whether host {@code from} reaches {@code url} (a 2 s try from inside its namespace). */
  static boolean reaches(NetworkNamespaces net, int from, String url) throws IOException {
    return net.exec(from, "python3", "-c",
        "import urllib.request; urllib.request.urlopen('" + url + "', timeout=2).read()").ok();
  }

  static boolean rootReaches(String url) {
    try {
      return CLIENT.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(2)).build(),
          HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
    } catch (Exception e) {
      return false;
    }
  }

  @Test
  void hostsReachOneAnotherUntilPartitionedAndAgainAfterTheHealAndNothingIsLeft() throws Exception {
    List<String> names = new ArrayList<>();
    String bridge;
    Path dir = Files.createTempDirectory("sppt-www-");
    Process server = null;
    try (NetworkNamespaces net = NetworkNamespaces.create(3)) {
      bridge = net.bridgeName();
      for (int i = 0; i < net.size(); i++) {
        names.add(net.namespace(i));
      }
      List<String> cmd = new ArrayList<>(net.prefix(0));
      cmd.addAll(List.of("python3", "-m", "http.server", "8000", "--bind", net.address(0), "--directory",
          dir.toString()));
      server = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("log").toFile()).start();
      String url = "http://" + net.address(0) + ":8000/";
      Poll.until("the root namespace reaches host 0", DEADLINE, () -> rootReaches(url));
      assertThat(reaches(net, 1, url)).as("host 1 reaches host 0").isTrue();
      assertThat(reaches(net, 2, url)).as("host 2 reaches host 0").isTrue();
      // Loopback is up in every namespace.
      for (int i = 0; i < net.size(); i++) {
        assertThat(net.exec(i, "python3", "-c", "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); "
            + "s.listen(); socket.create_connection(s.getsockname(), timeout=2)").ok()).as("loopback in " + i).isTrue();
      }

      net.partition(Set.of(0, 2), Set.of(1));
      assertThat(reaches(net, 1, url)).as("host 1, cut off, reaches host 0").isFalse();
      assertThat(reaches(net, 2, url)).as("host 2, same side, reaches host 0").isTrue();
      assertThat(rootReaches(url)).as("the root namespace still reaches host 0").isTrue();
      assertThat(net.rules(1)).contains("-s " + net.address(0)).contains("-d " + net.address(2));

      net.heal();
      Poll.until("host 1 reaches host 0 after the heal", DEADLINE, () -> reaches(net, 1, url));
      assertThat(net.rules(1)).doesNotContain("DROP");
    } finally {
      if (server != null) {
        server.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
      try (var walk = Files.walk(dir)) {
        walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
    String netns = run("ip", "netns", "list");
    for (String n : names) {
      assertThat(netns).doesNotContain(n);
    }
    assertThat(run("ip", "-o", "link", "show")).doesNotContain(bridge.substring(0, bridge.length() - 2));
  }

  @Test
  void aNameResolvesToEveryHostInsideTheNamespacesOnlyAndIsRemovedWithThem() throws Exception {
    String name = "snakepit-headless.test.invalid";
    String resolve = "import socket; print(sorted({a[4][0] for a in socket.getaddrinfo('" + name
        + "', 5701, socket.AF_INET, socket.SOCK_STREAM)}))";
    List<String> names = new ArrayList<>();
    String hostsBefore = Files.readString(Path.of("/etc/hosts"));
    try (NetworkNamespaces net = NetworkNamespaces.create(3)) {
      net.resolveInside(name);
      for (int i = 0; i < net.size(); i++) {
        names.add(net.namespace(i));
      }
      String expected = "['" + net.address(0) + "', '" + net.address(1) + "', '" + net.address(2) + "']";
      for (int i = 0; i < net.size(); i++) {
        NetworkNamespaces.Result r = net.exec(i, "python3", "-c", resolve);
        assertThat(r.ok()).as("resolving in %d: %s", i, r.output()).isTrue();
        assertThat(r.output().trim()).as("addresses of the name in " + i).isEqualTo(expected);
        // The machine's own names still resolve there.
        assertThat(net.exec(i, "python3", "-c", "import socket; socket.getaddrinfo('localhost', 1)").ok()).isTrue();
      }
    }
    assertThat(Files.readString(Path.of("/etc/hosts"))).as("the machine's /etc/hosts").isEqualTo(hostsBefore);
    for (String n : names) {
      assertThat(Path.of("/etc/netns", n)).doesNotExist();
    }
  }

  @Test
  void aCrashedRunsLeftoversAreRemovedAtTheStart() throws Exception {
    // A pid that no process has: that of a process that has ended.
    Process gone = new ProcessBuilder("true").start();
    gone.waitFor();
    String crashed = NetworkNamespaces.PREFIX + String.format("%06x", gone.pid() & 0xffffff) + "0";
    run("ip", "netns", "add", crashed + "-0");
    run("ip", "link", "add", crashed + "br", "type", "bridge");
    try (NetworkNamespaces net = NetworkNamespaces.create(1)) {
      assertThat(run("ip", "netns", "list")).doesNotContain(crashed);
      assertThat(run("ip", "-o", "link", "show")).doesNotContain(crashed);
      assertThat(run("ip", "netns", "list")).contains(net.namespace(0));
    } finally {
      // In case the harness failed to: never leave them behind.
      new ProcessBuilder("ip", "netns", "del", crashed + "-0").start().waitFor();
      new ProcessBuilder("ip", "link", "del", crashed + "br").start().waitFor();
    }
  }

  static String run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    p.waitFor();
    return out;
  }
}
