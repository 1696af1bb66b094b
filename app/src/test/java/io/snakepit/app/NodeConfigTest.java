package io.snakepit.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.snakepit.config.ConfigException;
import io.snakepit.supervisor.SupervisorConfig;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Configuration: the shipped default file, precedence of flags, and errors that name the key. */
class NodeConfigTest {

  @Test
  void theShippedDefaultFileIsValidAndSaysWhatTheDefaultsAre() {
    JsonObject json = NodeConfig.readFile(Path.of("..", "config", "snakepit.yaml"));
    NodeConfig cfg = NodeConfig.fromJson(json, "n1");
    assertThat(cfg.httpPort()).isEqualTo(8080);
    assertThat(cfg.host()).isEqualTo("127.0.0.1");
    SupervisorConfig sup = SupervisorConfig.fromJson(cfg.supervisor());
    assertThat(sup.pools()).containsOnlyKeys("default");
    assertThat(sup.pools().get("default").adapter()).isEqualTo("snakepit_worker.demo:DemoAdapter");
    assertThat(sup.pools().get("default").size()).isEqualTo(2 * Runtime.getRuntime().availableProcessors());
    assertThat(io.snakepit.app.http.HttpLimits.fromJson(cfg.http()))
        .isEqualTo(io.snakepit.app.http.HttpLimits.DEFAULTS);
  }

  @Test
  void unknownKeysWrongTypesAndImpossibleValuesNameTheKey() {
    assertThatThrownBy(() -> NodeConfig.fromJson(new JsonObject().put("http-prot", 1), "n"))
        .isInstanceOf(ConfigException.class).hasMessageContaining("http-prot").hasMessageContaining("http-port");
    assertThatThrownBy(() -> NodeConfig.fromJson(new JsonObject().put("http-port", "eighty"), "n"))
        .hasMessageContaining("http-port").hasMessageContaining("whole number");
    assertThatThrownBy(() -> NodeConfig.fromJson(new JsonObject().put("http-port", 70000), "n"))
        .hasMessageContaining("between 0 and 65535");
    JsonObject pools = new JsonObject().put("default", new JsonObject().put("heartbeat-ms", 500)
        .put("heartbeat-timeout-ms", 100));
    assertThatThrownBy(() -> NodeConfig.fromJson(new JsonObject().put("pools", pools), "n"))
        .hasMessageContaining("pools.default.heartbeat-timeout-ms");
    assertThatThrownBy(() -> NodeConfig.fromJson(new JsonObject().put("pools",
        new JsonObject().put("p", new JsonObject().put("adapter", "not an adapter!"))), "n"))
        .hasMessageContaining("pools.p.adapter");
  }

  @Test
  void flagsOverrideTheFileAndTargetTheDefaultPool(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    Path file = dir.resolve("c.yaml");
    Files.writeString(file, "http-port: 9999\npools:\n  default:\n    size: 7\n");
    RunCommand run = new RunCommand();
    new CommandLine(run).parseArgs("--config", file.toString(), "--http-port", "0", "--pool-size", "3",
        "--adapter", "my.mod:Tools", "--data-dir", dir.toString());
    NodeConfig cfg = run.resolve();
    assertThat(cfg.httpPort()).isZero();
    SupervisorConfig sup = SupervisorConfig.fromJson(cfg.supervisor());
    assertThat(sup.pools().get("default").size()).isEqualTo(3);
    assertThat(sup.pools().get("default").adapter()).isEqualTo("my.mod:Tools");
    // the node id is generated once and kept
    assertThat(cfg.nodeId()).isEqualTo(run.resolve().nodeId());
    assertThat(Files.readString(dir.resolve("node-id")).trim()).isEqualTo(cfg.nodeId());
  }

  @Test
  void everyKeyCanBeOverriddenByEnvironmentAndSetWithFlagsWinning(@org.junit.jupiter.api.io.TempDir Path dir)
      throws Exception {
    Path file = dir.resolve("c.yaml");
    Files.writeString(file, "http-port: 9999\npools:\n  default:\n    size: 7\n    max-rss-mb: 100\n");
    RunCommand run = new RunCommand();
    new CommandLine(run).parseArgs("--config", file.toString(), "--data-dir", dir.toString(),
        "--set", "pools.default.max-rss-mb=300", "--set", "sessions.memory.durability=sync");
    run.environment = java.util.Map.of("SNAKEPIT_HTTP_PORT", "7000", "SNAKEPIT_POOLS__DEFAULT__MAX_RSS_MB", "200",
        "SNAKEPIT_POOLS__DEFAULT__SIZE", "2", "SNAKEPIT_LOG_LEVEL", "DEBUG", "SNAKEPIT_CONFIG", "ignored");
    NodeConfig cfg = run.resolve();
    assertThat(cfg.httpPort()).isEqualTo(7000);
    SupervisorConfig sup = SupervisorConfig.fromJson(cfg.supervisor());
    assertThat(sup.pools().get("default").size()).isEqualTo(2);
    assertThat(sup.pools().get("default").maxRssBytes()).isEqualTo(300L * 1024 * 1024);
    assertThat(cfg.sessions().getJsonObject("sessions").getJsonObject("memory").getString("durability"))
        .isEqualTo("sync");

    RunCommand typo = new RunCommand();
    new CommandLine(typo).parseArgs("--data-dir", dir.toString());
    typo.environment = java.util.Map.of("SNAKEPIT_POOLS__DEFAULT__SISE", "2");
    assertThatThrownBy(typo::resolve).isInstanceOf(ConfigException.class)
        .hasMessageContaining("pools.default.sise");
    RunCommand badSet = new RunCommand();
    new CommandLine(badSet).parseArgs("--data-dir", dir.toString(), "--set", "novalue");
    assertThatThrownBy(badSet::resolve).hasMessageContaining("KEY=VALUE");
  }

  @Test
  void unreadableOrMalformedFilesAreConfigErrors(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    assertThatThrownBy(() -> NodeConfig.readFile(dir.resolve("missing.yaml"))).isInstanceOf(ConfigException.class);
    Path bad = dir.resolve("bad.json");
    Files.writeString(bad, "{nope");
    assertThatThrownBy(() -> NodeConfig.readFile(bad)).hasMessageContaining("not valid JSON");
    Path list = dir.resolve("list.yaml");
    Files.writeString(list, "- a\n- b\n");
    assertThatThrownBy(() -> NodeConfig.readFile(list)).hasMessageContaining("mapping");
  }

  @Test
  void aNodeAloneRunsOnOneEventLoopAClusterMemberOnVertxsDefaultAndTheKeyOverridesBoth(
      @org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    assertThat(NodeConfig.fromJson(new JsonObject(), "n").eventLoops()).isEqualTo(1);
    assertThat(NodeConfig.fromJson(new JsonObject().put("event-loops", 3), "n").eventLoops()).isEqualTo(3);
    RunCommand clustered = new RunCommand();
    new CommandLine(clustered).parseArgs("--data-dir", dir.toString(), "--cluster", "--members", "10.0.0.2:5701");
    clustered.environment = java.util.Map.of();
    assertThat(clustered.resolve().eventLoops()).isEqualTo(2 * Runtime.getRuntime().availableProcessors());
    assertThatThrownBy(() -> NodeConfig.fromJson(new JsonObject().put("event-loops", 0), "n"))
        .isInstanceOf(ConfigException.class).hasMessageContaining("event-loops");
  }

  @Test
  void aClusterHostGivenAsANameBindsHazelcastToItsAddress(@org.junit.jupiter.api.io.TempDir Path dir) {
    // As docker/compose.yaml sets it (SNAKEPIT_CLUSTER_HOST: n1): a name. Hazelcast matches interfaces by address
    // only, and refused to start on the name ("No matching network interface found").
    RunCommand named = new RunCommand();
    new CommandLine(named).parseArgs("--data-dir", dir.toString(), "--cluster", "--cluster-host", "localhost");
    named.environment = java.util.Map.of();
    var member = ClusterConfig.hazelcast(named.resolve()).getAdvancedNetworkConfig().getEndpointConfigs().values()
        .iterator().next();
    assertThat(member.getInterfaces().getInterfaces()).containsExactly("127.0.0.1");
    assertThat(((com.hazelcast.config.ServerSocketEndpointConfig) member).getPublicAddress())
        .isEqualTo("127.0.0.1:5701");

    // Members given by name are joined through their addresses (Hazelcast never joined a name: three clusters
    // of one); one that does not resolve is kept as given.
    RunCommand members = new RunCommand();
    new CommandLine(members).parseArgs("--data-dir", dir.toString(), "--cluster", "--members",
        "localhost:5702,10.0.0.3:5701,no-such-host.invalid:5703");
    members.environment = java.util.Map.of();
    assertThat(ClusterConfig.hazelcast(members.resolve()).getAdvancedNetworkConfig().getJoin().getTcpIpConfig()
        .getMembers()).contains("127.0.0.1:5702", "10.0.0.3:5701", "no-such-host.invalid:5703")
        .doesNotContain("localhost:5702");

    RunCommand unknown = new RunCommand();
    new CommandLine(unknown).parseArgs("--data-dir", dir.toString(), "--cluster", "--cluster-host",
        "no-such-host.invalid");
    unknown.environment = java.util.Map.of();
    assertThatThrownBy(() -> ClusterConfig.hazelcast(unknown.resolve())).isInstanceOf(ConfigException.class)
        .hasMessageContaining("cluster-host").hasMessageContaining("no-such-host.invalid");
  }

  @Test
  void aClusterJoinsThroughItsMembersOrThroughADnsNameNeverBoth(@org.junit.jupiter.api.io.TempDir Path dir)
      throws Exception {
    RunCommand members = new RunCommand();
    new CommandLine(members).parseArgs("--data-dir", dir.toString(), "--cluster", "--members", "10.0.0.2:5701");
    members.environment = java.util.Map.of();
    var tcp = ClusterConfig.hazelcast(members.resolve()).getAdvancedNetworkConfig().getJoin();
    assertThat(tcp.getTcpIpConfig().isEnabled()).isTrue();
    assertThat(tcp.getTcpIpConfig().getMembers()).containsExactly("10.0.0.2:5701");
    assertThat(tcp.getKubernetesConfig().isEnabled()).isFalse();

    // As the Kubernetes manifest sets it: Hazelcast's DNS lookup of the headless service, on the cluster port.
    RunCommand dns = new RunCommand();
    new CommandLine(dns).parseArgs("--data-dir", dir.toString(), "--cluster-port", "5710");
    dns.environment = java.util.Map.of("SNAKEPIT_CLUSTER", "true",
        "SNAKEPIT_CLUSTER_DNS", "snakepit-headless.snakepit.svc.cluster.local");
    NodeConfig cfg = dns.resolve();
    assertThat(cfg.cluster().dns()).isEqualTo("snakepit-headless.snakepit.svc.cluster.local");
    var k8s = ClusterConfig.hazelcast(cfg).getAdvancedNetworkConfig().getJoin();
    assertThat(k8s.getTcpIpConfig().isEnabled()).isFalse();
    assertThat(k8s.getMulticastConfig().isEnabled()).isFalse();
    assertThat(k8s.getKubernetesConfig().isEnabled()).isTrue();
    assertThat(k8s.getKubernetesConfig().getProperties())
        .containsEntry("service-dns", "snakepit-headless.snakepit.svc.cluster.local")
        .containsEntry("service-port", "5710");

    RunCommand both = new RunCommand();
    new CommandLine(both).parseArgs("--data-dir", dir.toString(), "--cluster", "--members", "10.0.0.2:5701",
        "--cluster-dns", "snakepit-headless");
    both.environment = java.util.Map.of();
    assertThatThrownBy(both::resolve).isInstanceOf(ConfigException.class)
        .hasMessageContaining("cluster-members").hasMessageContaining("cluster-dns");
    RunCommand badName = new RunCommand();
    new CommandLine(badName).parseArgs("--data-dir", dir.toString(), "--cluster", "--cluster-dns", "not a name!");
    badName.environment = java.util.Map.of();
    assertThatThrownBy(badName::resolve).isInstanceOf(ConfigException.class).hasMessageContaining("cluster-dns");
  }

  @Test
  void aMistypedSessionAdapterStopsTheNodeNamingTheKeyAndTheAdapters(@org.junit.jupiter.api.io.TempDir Path dir)
      throws Exception {
    RunCommand run = new RunCommand();
    new CommandLine(run).parseArgs("--data-dir", dir.toString(), "--http-port", "0", "--grpc-port", "0",
        "--set", "sessions.adapter=memroy");
    run.environment = java.util.Map.of();
    // The configuration is checked before anything starts, against the adapters ServiceLoader finds.
    assertThatThrownBy(run::resolve).isInstanceOf(ConfigException.class)
        .hasMessageContaining("sessions.adapter").hasMessageContaining("\"memroy\"")
        .hasMessageContaining("memory").hasMessageContaining("hazelcast");
    // Through `snakepit run`: a configuration error, exit code 2, and the message on stderr.
    java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
    java.io.PrintStream original = System.err;
    int code;
    System.setErr(new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8));
    try {
      code = run.call();
    } finally {
      System.setErr(original);
    }
    assertThat(code).isEqualTo(RunCommand.EXIT_CONFIG);
    assertThat(err.toString(java.nio.charset.StandardCharsets.UTF_8))
        .contains("snakepit: configuration error: sessions.adapter \"memroy\" is not a known session adapter")
        .contains("memory").contains("hazelcast");
  }

  @Test
  void hostAndDataDirComeFromTheEnvironmentBelowTheirFlags(@org.junit.jupiter.api.io.TempDir Path dir)
      throws Exception {
    Path file = dir.resolve("c.yaml");
    Files.writeString(file, "host: 10.1.1.1\ndata-dir: " + dir.resolve("from-file") + "\n");
    Path envDir = dir.resolve("from-env");
    RunCommand run = new RunCommand();
    new CommandLine(run).parseArgs("--config", file.toString());
    run.environment = java.util.Map.of("SNAKEPIT_HOST", "0.0.0.0", "SNAKEPIT_DATA_DIR", envDir.toString(),
        "SNAKEPIT_SECURITY__INSECURE", "true");
    NodeConfig cfg = run.resolve();
    assertThat(cfg.host()).isEqualTo("0.0.0.0");
    assertThat(cfg.dataDir()).isEqualTo(envDir);
    // The node id is kept in the data dir the environment named.
    assertThat(Files.readString(envDir.resolve("node-id")).trim()).isEqualTo(cfg.nodeId());

    RunCommand flags = new RunCommand();
    new CommandLine(flags).parseArgs("--config", file.toString(), "--host", "127.0.0.2",
        "--data-dir", dir.resolve("from-flag").toString());
    flags.environment = run.environment;
    NodeConfig flagged = flags.resolve();
    assertThat(flagged.host()).isEqualTo("127.0.0.2");
    assertThat(flagged.dataDir()).isEqualTo(dir.resolve("from-flag"));
  }

  /**
   * SNAKEPIT_POOL_SIZE and SNAKEPIT_ADAPTER are picocli defaults ({@code ${env:...}}), read from the
   * process's real environment, which a test cannot change in its own JVM: so this starts
   * {@code snakepit run} in a separate JVM with that environment and no flags, and asks the node.
   */
  @Test
  void poolSizeAndAdapterComeFromTheRealEnvironment(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    Files.writeString(dir.resolve("env_probe.py"), """
        from snakepit_worker import Adapter, tool


        class Probe(Adapter):
            @tool
            def where(self) -> str:
                return "env_probe"
        """);
    Path data = dir.resolve("data");
    ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Dsnakepit.python=" + System.getProperty("snakepit.python", "python3"),
        "-cp", System.getProperty("java.class.path"), "io.snakepit.app.Main", "run").redirectErrorStream(true);
    pb.environment().keySet().removeIf(k -> k.startsWith("SNAKEPIT_"));
    pb.environment().putAll(java.util.Map.of("SNAKEPIT_POOL_SIZE", "1", "SNAKEPIT_ADAPTER", "env_probe:Probe",
        // A key variable for the same setting: SNAKEPIT_POOL_SIZE stands for the flag, so it wins.
        "SNAKEPIT_POOLS__DEFAULT__SIZE", "3",
        "SNAKEPIT_POOLS__DEFAULT__PYTHON_PATH", dir.toString(), "SNAKEPIT_DATA_DIR", data.toString(),
        "SNAKEPIT_HOST", "127.0.0.1", "SNAKEPIT_HTTP_PORT", "0", "SNAKEPIT_GRPC_PORT", "0"));
    Process p = pb.start();
    StringBuffer out = new StringBuffer();
    Thread reader = new Thread(() -> {
      try (var lines = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream()))) {
        for (String l = lines.readLine(); l != null; l = lines.readLine()) {
          out.append(l).append('\n');
        }
      } catch (java.io.IOException e) {
        // the process ended, or the test closed its output
      }
    }, "env-node-output");
    reader.setDaemon(true);
    reader.start();
    try {
      java.util.regex.Pattern ready = java.util.regex.Pattern.compile("snakepit: ready http=127\\.0\\.0\\.1:(\\d+) "
          + "grpc=\\S+ node=(\\S+)");
      TestNode.until("the node's ready line", java.time.Duration.ofSeconds(90),
          () -> ready.matcher(out).find() || !p.isAlive());
      java.util.regex.Matcher m = ready.matcher(out);
      assertThat(m.find()).as("ready line in:\n%s", out).isTrue();
      assertThat(Files.readString(data.resolve("node-id")).trim()).isEqualTo(m.group(2));
      var http = java.net.http.HttpClient.newBuilder().version(java.net.http.HttpClient.Version.HTTP_1_1).build();
      String base = "http://127.0.0.1:" + m.group(1);
      JsonObject pools = new JsonObject(http.send(java.net.http.HttpRequest.newBuilder(
          java.net.URI.create(base + "/v1/pools")).build(), java.net.http.HttpResponse.BodyHandlers.ofString()).body());
      JsonObject pool = pools.getJsonArray("pools").getJsonObject(0);
      assertThat(pool.getString("name")).isEqualTo("default");
      assertThat(pool.getInteger("size")).isEqualTo(1);
      assertThat(pool.getString("adapter")).isEqualTo("env_probe:Probe");
      java.net.http.HttpResponse<String> r = http.send(java.net.http.HttpRequest.newBuilder(
              java.net.URI.create(base + "/v1/execute")).header("Content-Type", "application/json")
          .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{\"tool\":\"where\"}")).build(),
          java.net.http.HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      assertThat(new JsonObject(r.body()).getString("result")).isEqualTo("env_probe");
      p.destroy(); // SIGTERM: the node stops gracefully, its workers with it
      assertThat(p.waitFor(90, java.util.concurrent.TimeUnit.SECONDS)).as("the node stops on SIGTERM").isTrue();
    } finally {
      if (p.isAlive()) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly().waitFor(30, java.util.concurrent.TimeUnit.SECONDS);
      }
    }
  }
}
