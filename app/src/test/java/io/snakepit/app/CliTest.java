package io.snakepit.app;

import static io.snakepit.app.CliRun.cli;
import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The admin CLI, run in this JVM against real nodes, with its output and exit codes. */
class CliTest {

  /** One run of the CLI: exit code, stdout, stderr. */

  static TestNode source;
  static TestNode target;

  @BeforeAll
  static void start() throws Exception {
    JsonObject cfg = new JsonObject().put("pools", new JsonObject().put("default", new JsonObject().put("size", 2)));
    source = TestNode.start("cli-source", cfg);
    target = TestNode.start("cli-target",
        new JsonObject().put("pools", new JsonObject().put("default", new JsonObject().put("size", 1))));
  }

  @AfterAll
  static void stop() throws Exception {
    if (source != null) {
      source.close();
    }
    if (target != null) {
      target.close();
    }
  }

  @Test
  void workersShowsATableOrJson() {
    CliRun table = cli("workers", "--url", source.url());
    assertThat(table.code()).as(table.toString()).isZero();
    assertThat(table.out()).startsWith("ID").contains("POOL", "STATE", "default-0.", "default-1.", "ready");
    CliRun json = cli("workers", "--url", source.url(), "--json");
    assertThat(json.code()).isZero();
    JsonArray workers = json.json().getJsonArray("workers");
    assertThat(workers).hasSize(2);
    assertThat(workers.getJsonObject(0).getLong("pid")).isPositive();
  }

  @Test
  void healthOfAHealthyNodeExitsZero() {
    CliRun r = cli("health", "--url", source.url());
    assertThat(r.code()).as(r.toString()).isZero();
    assertThat(r.out()).contains("live", "READY", "sessions", "UP");
    CliRun json = cli("health", "--url", source.url(), "--json");
    assertThat(json.code()).isZero();
    assertThat(json.json().getBoolean("healthy")).isTrue();
    assertThat(json.json().getJsonObject("ready").getString("status")).isEqualTo("READY");
  }

  @Test
  void sessionsListShowAndDelete() throws Exception {
    for (String id : List.of("ls-a", "ls-b", "ls-c")) {
      assertThat(source.send("POST", "/v1/sessions", "{\"id\":\"" + id + "\"}").statusCode()).isIn(200, 201);
    }
    source.send("PUT", "/v1/sessions/ls-a/variables/colour", "{\"value\":\"green\"}");

    CliRun page = cli("sessions", "list", "--url", source.url(), "--cursor", "ls-", "--limit", "2");
    assertThat(page.code()).as(page.toString()).isZero();
    assertThat(page.out()).startsWith("ID").contains("ls-a", "ls-b").doesNotContain("ls-c");
    assertThat(page.err()).contains("more: snakepit sessions list --cursor ls-b");

    CliRun json = cli("sessions", "list", "--url", source.url(), "--cursor", "ls-", "--limit", "2", "--json");
    assertThat(json.json().getJsonArray("sessions")).hasSize(2);
    assertThat(json.json().getString("next_cursor")).isEqualTo("ls-b");

    CliRun all = cli("sessions", "list", "--url", source.url(), "--cursor", "ls-", "--limit", "1", "--all", "--json");
    assertThat(all.code()).isZero();
    List<String> ids = all.out().lines().map(l -> new JsonObject(l).getString("id")).toList();
    assertThat(ids).containsSubsequence("ls-a", "ls-b", "ls-c");

    CliRun show = cli("sessions", "show", "ls-a", "--url", source.url());
    assertThat(show.code()).as(show.toString()).isZero();
    assertThat(show.out()).contains("ls-a", "VARIABLE", "colour", "\"green\"");
    assertThat(cli("sessions", "show", "ls-a", "--url", source.url(), "--json").json()
        .getJsonObject("variables").getString("colour")).isEqualTo("green");

    CliRun delete = cli("sessions", "delete", "ls-b", "--url", source.url());
    assertThat(delete.code()).isZero();
    assertThat(delete.out()).contains("deleted ls-b");
    assertThat(source.get("/v1/sessions/ls-b").statusCode()).isEqualTo(404);
  }

  @Test
  void anErrorOfTheNodeExitsOneWithItsCodeMessageAndCorrelationId() {
    CliRun r = cli("sessions", "show", "never-made", "--url", source.url());
    assertThat(r.code()).isEqualTo(1);
    assertThat(r.err()).contains("404 session_not_found", "never-made", "hint:", "correlation id: cli-");
    assertThat(r.out()).isEmpty();
    CliRun json = cli("sessions", "show", "never-made", "--url", source.url(), "--json");
    assertThat(json.code()).isEqualTo(1);
    assertThat(json.json().getJsonObject("error").getString("code")).isEqualTo("session_not_found");
    assertThat(json.json().getJsonObject("error").getString("correlation_id")).startsWith("cli-");
  }

  @Test
  void aNodeThatCannotBeReachedExitsThree() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    for (String[] args : List.of(new String[] {"workers"}, new String[] {"health"},
        new String[] {"sessions", "list"})) {
      String[] full = java.util.stream.Stream.concat(java.util.Arrays.stream(args),
          java.util.stream.Stream.of("--url", "http://127.0.0.1:" + port)).toArray(String[]::new);
      CliRun r = cli(full);
      assertThat(r.code()).as(String.join(" ", args) + ": " + r).isEqualTo(3);
      assertThat(r.err()).contains("cannot reach the node at http://127.0.0.1:" + port);
    }
  }

  @Test
  void usageErrorsExitTwo() {
    assertThat(cli("sessions", "frobnicate").code()).isEqualTo(2);
    assertThat(cli("sessions", "show").code()).isEqualTo(2);
    assertThat(cli("workers", "--bogus").code()).isEqualTo(2);
    assertThat(cli("workers", "--url", "not a url").code()).isEqualTo(2);
    assertThat(cli("sessions", "list", "--url", source.url(), "--limit", "0").code()).isEqualTo(2);
    CliRun missing = cli("sessions", "import", "/nonexistent/file.ndjson", "--url", source.url());
    assertThat(missing.code()).isEqualTo(2);
    assertThat(missing.err()).contains("cannot read /nonexistent/file.ndjson");
  }

  @Test
  void exportStreamsToAFileWithProgressAndImportMergesItIntoAnotherNode(@TempDir Path dir) throws Exception {
    // Enough sessions for a progress line (one every 1000).
    Path seed = dir.resolve("seed.ndjson");
    long now = System.currentTimeMillis();
    Files.write(seed, IntStream.range(0, 1100).mapToObj(i -> new JsonObject().put("id", String.format("exp-%05d", i))
        .put("created_at", now).put("accessed_at", now).put("ttl_ms", 3_600_000).put("version", 1).encode())
        .toList(), StandardCharsets.UTF_8);
    CliRun seeded = cli("sessions", "import", seed.toString(), "--url", source.url());
    assertThat(seeded.code()).as(seeded.toString()).isZero();
    assertThat(seeded.out()).contains("imported 1100 sessions, 0 failed");
    assertThat(seeded.err()).contains("sent 1000 lines so far");

    Path file = dir.resolve("out.ndjson");
    CliRun export = cli("sessions", "export", "--out", file.toString(), "--url", source.url());
    assertThat(export.code()).as(export.toString()).isZero();
    assertThat(export.err()).contains("exported 1000 sessions so far");
    List<String> lines = Files.readAllLines(file);
    long sessions = lines.stream().filter(l -> !l.startsWith("{\"exported\"")).count();
    assertThat(sessions).isGreaterThanOrEqualTo(1100);
    assertThat(lines.get(lines.size() - 1)).isEqualTo("{\"exported\":" + sessions + "}");
    // The summary is progress, on stderr like the rest: stdout carries data only, and there is none with --out.
    assertThat(export.err()).contains("exported " + sessions + " sessions to " + file);
    assertThat(export.out()).isEmpty();
    assertThat(Files.exists(dir.resolve("out.ndjson.part"))).isFalse();

    CliRun imported = cli("sessions", "import", file.toString(), "--url", target.url(), "--json");
    assertThat(imported.code()).as(imported.toString()).isZero();
    assertThat(imported.json().getLong("imported")).isEqualTo(sessions);
    assertThat(imported.json().getLong("failed")).isZero();
    assertThat(target.get("/v1/sessions/exp-01099").statusCode()).isEqualTo(200);

    // Without --out the sessions go to stdout and the summary to stderr.
    CliRun toStdout = cli("sessions", "export", "--url", target.url());
    assertThat(toStdout.code()).isZero();
    assertThat(toStdout.out().lines().filter(l -> l.contains("\"exp-00000\"")).count()).isEqualTo(1);
    long onStdout = toStdout.out().lines().filter(l -> !l.startsWith("{\"exported\"")).count();
    assertThat(onStdout).isGreaterThanOrEqualTo(sessions);
    assertThat(toStdout.err()).contains("exported " + onStdout + " sessions");
  }

  @Test
  void anImportWithBadLinesExitsFourAndNamesTheLines(@TempDir Path dir) throws Exception {
    long now = System.currentTimeMillis();
    Path file = dir.resolve("mixed.ndjson");
    Files.writeString(file, new JsonObject().put("id", "imp-ok").put("created_at", now).put("accessed_at", now)
        .put("ttl_ms", 3_600_000).put("version", 1).encode() + "\nthis is not json\n{\"id\":\"bad id!\"}\n");
    CliRun r = cli("sessions", "import", file.toString(), "--url", target.url());
    assertThat(r.code()).as(r.toString()).isEqualTo(4);
    assertThat(r.out()).contains("imported 1 sessions, 2 failed").contains("LINE").containsPattern("(?m)^2 +");
    assertThat(r.out()).containsPattern("(?m)^3 +");
    assertThat(target.get("/v1/sessions/imp-ok").statusCode()).isEqualTo(200);
  }

  @Test
  void anImportOfSessionsDeletedSinceSaysTheyWereSkippedAndHowToRestoreThem(@TempDir Path dir) throws Exception {
    long now = System.currentTimeMillis();
    Path file = dir.resolve("deleted.ndjson");
    Files.write(file, IntStream.range(0, 4).mapToObj(i -> new JsonObject().put("id", "del-" + i)
        .put("created_at", now).put("accessed_at", now).put("ttl_ms", 3_600_000).put("version", 1).encode())
        .toList(), StandardCharsets.UTF_8);
    CliRun first = cli("sessions", "import", file.toString(), "--url", target.url());
    assertThat(first.out()).as(first.toString()).contains("imported 4 sessions, 0 failed");
    for (int i = 0; i < 4; i++) {
      assertThat(target.send("DELETE", "/v1/sessions/del-" + i, null).statusCode()).isEqualTo(204);
    }

    CliRun again = cli("sessions", "import", file.toString(), "--url", target.url());
    assertThat(again.code()).as(again.toString()).isZero();
    assertThat(again.out()).contains("imported 0 sessions, 4 skipped (deleted later: a tombstone is newer), 0 failed")
        .contains("SKIPPED").containsPattern("(?m)^1 +del-0 +deleted").contains("tombstone-ttl-s")
        .contains("create each again");
    assertThat(target.get("/v1/sessions/del-0").statusCode()).isEqualTo(404);

    // As the output says: created again, a deleted session is restored by the import.
    assertThat(target.send("POST", "/v1/sessions", "{\"id\":\"del-0\"}").statusCode()).isIn(200, 201);
    CliRun restored = cli("sessions", "import", file.toString(), "--url", target.url(), "--json");
    assertThat(restored.json().getLong("imported")).as(restored.toString()).isEqualTo(1);
    assertThat(restored.json().getLong("skipped")).isEqualTo(3);
    assertThat(new JsonObject(target.get("/v1/sessions/del-0").body()).getLong("created_at")).isEqualTo(now);
  }
}
