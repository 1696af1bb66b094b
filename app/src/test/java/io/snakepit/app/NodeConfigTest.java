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
  void aClusterJoinsThroughItsMembersOrThroughADnsNameNeverBoth(@org.junit.jupiter.api.io.TempDir Path dir)
      throws Exception {
    RunCommand members = new RunCommand();
    new CommandLine(members).parseArgs("--data-dir", dir.toString(), "--cluster", "--members", "10.0.0.2:5701");
    members.environment = java.util.Map.of();
    var tcp = ClusterConfig.hazelcast(members.resolve()).getNetworkConfig().getJoin();
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
    var k8s = ClusterConfig.hazelcast(cfg).getNetworkConfig().getJoin();
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
}
