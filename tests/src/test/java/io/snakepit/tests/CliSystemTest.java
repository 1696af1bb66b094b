package io.snakepit.tests;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.tests.harness.CliProcess;
import io.snakepit.tests.harness.Http;
import io.snakepit.tests.harness.NodeProcess;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The admin CLI as an operator runs it: its own JVM, against a node in another JVM. */
class CliSystemTest {

  static final Duration DEADLINE = Duration.ofSeconds(60);
  Path dir;

  @BeforeEach
  void setUp() throws Exception {
    dir = Files.createTempDirectory("snakepit-cli-sys-");
  }

  @AfterEach
  void tearDown() throws Exception {
    try (var walk = Files.walk(dir)) {
      walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  /** Runs {@code snakepit ARGS...} in a new JVM with SNAKEPIT_URL set. */
  CliProcess cli(String url, String... args) throws IOException, InterruptedException {
    return cliWithEnv(url, java.util.Map.of(), args);
  }

  /** As {@link #cli}, with more environment variables. */
  CliProcess cliWithEnv(String url, java.util.Map<String, String> env, String... args)
      throws IOException, InterruptedException {
    java.util.Map<String, String> all = new java.util.HashMap<>(env);
    all.put("SNAKEPIT_URL", url);
    return CliProcess.run(DEADLINE, all, args);
  }

  @Test
  void theCliAuthenticatesWithATokenFromAFlagAFileOrTheEnvironment() throws Exception {
    Path keys = dir.resolve("keys.json");
    CliProcess add = cli("http://127.0.0.1:1", "keys", "add", "ops", "--role", "admin", "--file", keys.toString());
    assertThat(add.code()).as(add.toString()).isZero();
    String key = add.out().strip();
    Path tokenFile = dir.resolve("token");
    Files.writeString(tokenFile, key + "\n");
    try (NodeProcess node = NodeProcess.start(dir.resolve("node"), DEADLINE, "--pool-size", "1",
        "--set", "security.api-keys-file=" + keys)) {
      String url = node.baseUrl();
      CliProcess refused = cli(url, "pools", "list");
      assertThat(refused.code()).isEqualTo(1);
      assertThat(refused.err()).contains("401 unauthenticated").contains("--token");
      CliProcess byFlag = cli(url, "pools", "list", "--token", key);
      assertThat(byFlag.code()).as(byFlag.toString()).isZero();
      assertThat(byFlag.out()).contains("default");
      CliProcess byFile = cli(url, "workers", "--token-file", tokenFile.toString());
      assertThat(byFile.code()).as(byFile.toString()).isZero();
      CliProcess byEnv = cliWithEnv(url, java.util.Map.of("SNAKEPIT_TOKEN", key), "sessions", "list");
      assertThat(byEnv.code()).as(byEnv.toString()).isZero();
      CliProcess wrong = cli(url, "pools", "list", "--token", "sp_" + "x".repeat(43));
      assertThat(wrong.code()).isEqualTo(1);
      assertThat(wrong.err() + wrong.out()).doesNotContain("x".repeat(43));
      // The node logged no key, whichever way it came.
      assertThat(node.logText()).doesNotContain(key.substring(3));
    }
  }

  @Test
  void anOperatorChecksExportsAndImportsThroughTheCli() throws Exception {
    Path file = dir.resolve("sessions.ndjson");
    String url;
    try (NodeProcess node = NodeProcess.start(dir.resolve("node"), DEADLINE, "--pool-size", "1")) {
      url = node.baseUrl();
      for (int i = 0; i < 5; i++) {
        assertThat(Http.post(url + "/v1/sessions", "{\"id\":\"sys-" + i + "\"}").statusCode()).isEqualTo(201);
      }
      Http.put(url + "/v1/sessions/sys-0/variables/n", "{\"value\":42}");

      CliProcess health = cli(url, "health");
      assertThat(health.code()).as(health.toString()).isZero();
      assertThat(health.out()).contains("READY");

      CliProcess export = cli(url, "sessions", "export", "--out", file.toString());
      assertThat(export.code()).as(export.toString()).isZero();
      // With --out, stdout carries no data, and the summary goes to stderr with the progress (operations.md).
      assertThat(export.out()).isEmpty();
      assertThat(export.err()).contains("exported 5 sessions to " + file);
      assertThat(Files.readAllLines(file)).hasSize(6).last().isEqualTo("{\"exported\":5}");

      CliProcess delete = cli(url, "sessions", "delete", "sys-0", "--json");
      assertThat(delete.code()).isZero();
      assertThat(new JsonObject(delete.out().strip()).getString("deleted")).isEqualTo("sys-0");
    }

    // The node is gone: the CLI says it cannot reach it.
    CliProcess gone = cli(url, "workers");
    assertThat(gone.code()).as(gone.toString()).isEqualTo(3);
    assertThat(gone.err()).contains("cannot reach the node");

    // A fresh node takes the export back.
    try (NodeProcess node = NodeProcess.start(dir.resolve("node2"), DEADLINE, "--pool-size", "1")) {
      CliProcess imported = cli(node.baseUrl(), "sessions", "import", file.toString());
      assertThat(imported.code()).as(imported.toString()).isZero();
      assertThat(imported.out()).contains("imported 5 sessions, 0 failed");
      CliProcess show = cli(node.baseUrl(), "sessions", "show", "sys-0", "--json");
      assertThat(show.code()).as(show.toString()).isZero();
      assertThat(new JsonObject(show.out().strip()).getJsonObject("variables").getInteger("n")).isEqualTo(42);
    }
  }
}
