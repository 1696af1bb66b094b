package io.snakepit.app.http;

import static io.snakepit.app.CliRun.cli;
import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.app.CliRun;
import io.snakepit.app.TestNode;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Session data encryption through a real node: the memory adapter's file holds no plaintext, {@code snakepit keys
 * new-data-key} adds a key that the node picks up, {@code snakepit keys rotate-data} re-seals everything with it
 * over {@code POST /v1/admin/data-keys/rotate}, and a node without encryption answers the route with a typed error.
 */
class DataKeyRotationHttpTest {

  private static final String SECRET = "tell-no-one-4242";
  private static Path keys;
  private static TestNode node;

  @BeforeAll
  static void start() throws Exception {
    keys = Files.createTempDirectory("snakepit-keys-").resolve("data-keys");
    CliRun added = cli("keys", "new-data-key", "--file", keys.toString());
    assertThat(added.code()).as(added.toString()).isZero();
    node = TestNode.start("enc-node", new JsonObject()
        .put("pools", new JsonObject().put("default", new JsonObject().put("size", 1)))
        .put("sessions", new JsonObject().put("encryption", new JsonObject().put("key-file", keys.toString()))));
  }

  @AfterAll
  static void stop() throws Exception {
    if (node != null) {
      node.close();
    }
    TestNode.delete(keys.getParent());
  }

  private static boolean dataDirContains(String text) throws Exception {
    byte[] needle = text.getBytes(StandardCharsets.UTF_8);
    try (Stream<Path> files = Files.walk(node.dataDir)) {
      for (Path f : files.filter(Files::isRegularFile).toList()) {
        String hay = new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1);
        if (hay.contains(new String(needle, StandardCharsets.ISO_8859_1))) {
          return true;
        }
      }
    }
    return false;
  }

  @Test
  void newDataKeyMakesAnOwnerOnlyFileAndNeverPrintsTheKey() throws Exception {
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(keys))).isEqualTo("rw-------");
    Path other = keys.resolveSibling("other-keys");
    CliRun r = cli("keys", "new-data-key", "--file", other.toString());
    String line = Files.readString(other).strip();
    assertThat(r.out()).contains(line.substring(0, line.indexOf('='))).doesNotContain(line.substring(line.indexOf('=') + 1));
    Files.writeString(other, "garbage\n");
    CliRun bad = cli("keys", "new-data-key", "--file", other.toString());
    assertThat(bad.code()).isEqualTo(2);
    assertThat(bad.err()).contains("line 1").contains("nothing was added");
    assertThat(Files.readString(other)).isEqualTo("garbage\n");
  }

  @Test
  void sessionsAreSealedOnDiskAndRotateToANewKey() throws Exception {
    assertThat(node.send("POST", "/v1/sessions", "{\"id\":\"enc-1\",\"metadata\":{\"m\":\"" + SECRET + "\"}}")
        .statusCode()).isEqualTo(201);
    assertThat(node.send("PUT", "/v1/sessions/enc-1/variables/v", "{\"value\":\"" + SECRET + "\"}").statusCode())
        .isEqualTo(200);
    TestNode.until("the session is in the file", Duration.ofSeconds(30), () -> dataDirContains("enc-1"));
    assertThat(dataDirContains(SECRET)).isFalse();

    String oldKey = Files.readString(keys).strip().split("=")[0];
    CliRun added = cli("keys", "new-data-key", "--file", keys.toString());
    assertThat(added.code()).as(added.toString()).isZero();
    String newKey = Files.readString(keys).strip().lines().reduce((a, b) -> b).orElseThrow().split("=")[0];
    assertThat(newKey).isNotEqualTo(oldKey);

    CliRun rotated = cli("keys", "rotate-data", "--url", node.url(), "--wait");
    assertThat(rotated.code()).as(rotated.toString()).isZero();
    assertThat(rotated.out()).startsWith("rotation done").contains("on key " + newKey);
    JsonObject status = new JsonObject(node.get("/v1/admin/data-keys/rotate").body());
    assertThat(status.getString("state")).isEqualTo("done");
    assertThat(status.getString("active_key")).isEqualTo(newKey);
    assertThat(status.getLong("resealed")).isGreaterThanOrEqualTo(1L);
    assertThat(status.getLong("refused")).isZero();

    HttpResponse<String> v = node.get("/v1/sessions/enc-1/variables/v");
    assertThat(new JsonObject(v.body()).getString("value")).isEqualTo(SECRET);
    assertThat(new JsonObject(node.get("/v1/sessions/enc-1").body()).getJsonObject("metadata").getString("m"))
        .isEqualTo(SECRET);
    JsonObject health = new JsonObject(node.get("/health/sessions").body());
    assertThat(health.encode()).contains(newKey).doesNotContain(Files.readString(keys).split("=")[1].strip());
  }

  @Test
  void theRouteOfANodeWithoutEncryptionIsATypedError() throws Exception {
    try (TestNode plain = TestNode.start("plain-node", new JsonObject()
        .put("pools", new JsonObject().put("default", new JsonObject().put("size", 1))))) {
      HttpResponse<String> r = plain.send("POST", "/v1/admin/data-keys/rotate", null);
      assertThat(r.statusCode()).isEqualTo(400);
      JsonObject error = new JsonObject(r.body()).getJsonObject("error");
      assertThat(error.getString("code")).isEqualTo("bad_request");
      assertThat(error.getString("message")).contains("sessions.encryption.key-file");
      assertThat(error.getString("correlation_id")).isNotBlank();
    }
  }
}
