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
}
