package io.snakepit.app.http;

import static io.snakepit.app.CliRun.cli;
import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.app.CliRun;
import io.snakepit.app.TestNode;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * A live migration of a real node's sessions from its memory store to another, over {@code /v1/admin/migration}
 * and {@code snakepit migrate}: every bad step a typed error that changes nothing, then start, status, verify,
 * cutover and commit, the sessions readable all along and after a restart.
 */
class MigrationHttpTest {

  private static JsonObject error(HttpResponse<String> r, int status, String code) {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
    JsonObject e = new JsonObject(r.body()).getJsonObject("error");
    assertThat(e.getString("code")).isEqualTo(code);
    assertThat(e.getString("correlation_id")).isNotBlank();
    return e;
  }

  private static String phase(TestNode node) throws Exception {
    return new JsonObject(node.get("/v1/admin/migration").body()).getString("phase");
  }

  @Test
  void badStepsAreTypedErrorsThenAMigrationRunsToItsCommit() throws Exception {
    JsonObject cfg = new JsonObject().put("pools", new JsonObject().put("default", new JsonObject().put("size", 1)));
    TestNode node = TestNode.start("migrating", cfg);
    try {
      for (int i = 0; i < 30; i++) {
        assertThat(node.send("POST", "/v1/sessions", "{\"id\":\"m-" + i + "\"}").statusCode()).isEqualTo(201);
        assertThat(node.send("PUT", "/v1/sessions/m-" + i + "/variables/v", "{\"value\":" + i + "}").statusCode())
            .isBetween(200, 204);
      }
      assertThat(phase(node)).isEqualTo("idle");

      JsonObject unknown = error(node.send("POST", "/v1/admin/migration", "{\"to\":\"nosuch\"}"), 400,
          "bad_request");
      assertThat(unknown.getString("message")).contains("memory", "hazelcast", "Nothing was changed");
      assertThat(unknown.getJsonArray("adapters")).contains("memory", "hazelcast");
      error(node.send("POST", "/v1/admin/migration", "not json"), 400, "bad_request");
      error(node.send("POST", "/v1/admin/migration", "{\"to\":\"memory\",\"settings\":{\"durability\":\"x\"}}"),
          400, "bad_request");
      error(node.send("POST", "/v1/admin/migration/verify", null), 409, "conflict");
      error(node.send("POST", "/v1/admin/migration/repair", null), 409, "conflict");
      error(node.send("POST", "/v1/admin/migration/cutover", null), 409, "conflict");
      JsonObject early = error(node.send("POST", "/v1/admin/migration/commit", null), 409, "conflict");
      assertThat(early.getString("message")).contains("cutover");
      error(node.send("POST", "/v1/admin/migration/rollback", null), 409, "conflict");
      assertThat(phase(node)).isEqualTo("idle");

      CliRun started = cli("migrate", "start", "--to", "memory", "--set", "persistence=true", "--url", node.url());
      assertThat(started.code()).as(started.toString()).isZero();
      assertThat(started.out()).contains("memory -> memory");
      error(node.send("POST", "/v1/admin/migration", "{\"to\":\"memory\"}"), 409, "conflict");
      TestNode.until("the backfill is done", Duration.ofSeconds(60), () -> new JsonObject(
          node.get("/v1/admin/migration").body()).getJsonObject("backfill").getBoolean("done"));
      error(node.send("POST", "/v1/admin/migration/commit", null), 409, "conflict");

      CliRun verified = cli("migrate", "verify", "--url", node.url());
      assertThat(verified.code()).as(verified.toString()).isZero();
      assertThat(verified.out()).contains("phase verified", "verify: passed, 30 sessions in the source, 30 in the "
          + "target, 0 differences");
      // A repair, then a verify again: nothing to repair here, and the verify after it is what a commit needs.
      CliRun repaired = cli("migrate", "verify", "--repair", "--url", node.url());
      assertThat(repaired.code()).as(repaired.toString()).isZero();
      assertThat(repaired.out()).contains("phase verified", "verify: passed, 30 sessions in the source");
      assertThat(cli("migrate", "cutover", "--url", node.url()).code()).isZero();
      // Written in cutover: in the target, which now answers, and in the source.
      assertThat(node.send("PUT", "/v1/sessions/m-0/variables/after", "{\"value\":\"cut\"}").statusCode())
          .isBetween(200, 204);
      CliRun committed = cli("migrate", "commit", "--url", node.url());
      assertThat(committed.code()).as(committed.toString()).isZero();
      JsonObject late = error(node.send("POST", "/v1/admin/migration/rollback", null), 409, "conflict");
      assertThat(late.getString("message")).contains("committed");
      CliRun status = cli("migrate", "status", "--json", "--url", node.url());
      assertThat(new JsonObject(status.out().strip()).getString("phase")).isEqualTo("committed");
      assertThat(new JsonObject(node.get("/v1/sessions/m-0/variables/after").body()).getString("value"))
          .isEqualTo("cut");
      assertThat(new JsonObject(node.get("/v1/sessions/m-29/variables/v").body()).getInteger("value"))
          .isEqualTo(29);
      assertThat(Files.exists(node.dataDir.resolve("migration").resolve("state.json"))).isTrue();
      String audit = Files.exists(node.dataDir.resolve("audit.log"))
          ? Files.readString(node.dataDir.resolve("audit.log")) : "";
      if (!audit.isEmpty()) {
        assertThat(audit).contains("migration.start", "migration.commit");
      }
    } finally {
      node.close();
      TestNode.delete(node.dataDir);
    }
  }
}
