package io.snakepit.app.http;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.snakepit.app.TestNode;
import io.snakepit.app.security.KeysFile;
import io.snakepit.app.security.Role;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * The audit log of a real node: one JSON line per audited action with its principal, correlation id, target and
 * outcome; the keys file reloaded while the node runs; and no key anywhere in the audit log or the node's log.
 */
class HttpAuditTest {

  private static JsonObject line(List<JsonObject> lines, String event, String cid) {
    return lines.stream().filter(l -> event.equals(l.getString("event"))
            && (cid == null || cid.equals(l.getString("correlation_id"))))
        .findFirst().orElseThrow(() -> new AssertionError("no " + event + " line with correlation id " + cid
            + " in " + lines));
  }

  private static HttpResponse<String> send(SecuredNode n, String key, String method, String path, String body,
      String cid) throws Exception {
    var b = n.node.request(method, path, body).header("X-Correlation-Id", cid);
    if (key != null) {
      b.header("Authorization", "Bearer " + key);
    }
    if (path.endsWith("/import")) {
      b.header("Content-Type", "application/x-ndjson");
    }
    return n.node.http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void eachAuditedActionIsOneLineWithWhoWhatAndHowAndNoSecretIsLoggedAnywhere() throws Exception {
    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    logs.start();
    root.addAppender(logs);
    SecuredNode n = SecuredNode.start("audit", new JsonObject(), new JsonObject());
    Path audit = n.node.dataDir.resolve("audit.log");
    String carolKey = KeysFile.newKey();
    try {
      var k = n.keys;
      assertThat(send(n, null, "GET", "/v1/pools", null, "cid-unauth").statusCode()).isEqualTo(401);
      assertThat(send(n, k.get(SecuredNode.CALLER), "POST", "/v1/admin/drain", null, "cid-forbid").statusCode())
          .isEqualTo(403);
      assertThat(send(n, k.get(SecuredNode.CALLER), "POST", "/v1/sessions", "{\"id\":\"s-a\"}", "cid-create")
          .statusCode()).isEqualTo(201);
      assertThat(send(n, k.get(SecuredNode.CALLER), "DELETE", "/v1/sessions/s-a", null, "cid-del").statusCode())
          .isEqualTo(204);
      assertThat(send(n, k.get(SecuredNode.OPERATOR), "GET", "/v1/sessions/export", null, "cid-export").statusCode())
          .isEqualTo(200);
      assertThat(send(n, k.get(SecuredNode.OPERATOR), "POST", "/v1/sessions/import", "", "cid-import").statusCode())
          .isEqualTo(200);
      assertThat(send(n, k.get(SecuredNode.ADMIN), "POST", "/v1/pools/default/reload", null, "cid-reload")
          .statusCode()).isEqualTo(200);

      // The keys file changes under the running node: a new key works, a removed one stops working.
      JsonObject doc = KeysFile.read(n.keysFile);
      var entries = doc.getJsonArray("keys");
      for (int i = 0; i < entries.size(); i++) {
        if (SecuredNode.OTHER_CALLER.equals(entries.getJsonObject(i).getString("name"))) {
          entries.remove(i);
          break;
        }
      }
      entries.add(KeysFile.entry("carol", Role.READER, carolKey, Set.of(), Set.of()));
      KeysFile.write(n.keysFile, doc);
      TestNode.until("the node takes carol's new key", Duration.ofSeconds(30),
          () -> send(n, carolKey, "GET", "/v1/pools", null, "cid-carol").statusCode() == 200);
      TestNode.until("the node refuses bob's removed key", Duration.ofSeconds(30),
          () -> send(n, k.get(SecuredNode.OTHER_CALLER), "GET", "/v1/sessions/x", null, "cid-bob").statusCode()
              == 401);
      // A broken file is not taken: the keys in force stay.
      Files.writeString(n.keysFile, "{\"keys\": [{\"name\": \"half");
      TestNode.until("the node reports the broken keys file", Duration.ofSeconds(30), () -> logs.list.stream()
          .anyMatch(e -> e.getFormattedMessage().contains("Kept the previous API keys")));
      assertThat(send(n, carolKey, "GET", "/v1/pools", null, "cid-carol2").statusCode()).isEqualTo(200);

      assertThat(send(n, k.get(SecuredNode.ADMIN), "POST", "/v1/admin/drain", null, "cid-drain").statusCode())
          .isEqualTo(202);
      // The drain stops the node, which writes its last line as it closes the log.
      TestNode.until("the node has stopped", Duration.ofSeconds(90), () -> Files.readString(audit)
          .contains("\"event\":\"node.stop\""));

      List<JsonObject> lines = Files.readAllLines(audit).stream().map(JsonObject::new).toList();
      JsonObject unauth = line(lines, "auth.failed", "cid-unauth");
      assertThat(unauth.getString("target")).isEqualTo("GET /v1/pools");
      assertThat(unauth.getString("outcome")).isEqualTo("unauthenticated");
      assertThat(unauth.getString("remote")).isEqualTo("127.0.0.1");
      JsonObject forbid = line(lines, "auth.forbidden", "cid-forbid");
      assertThat(forbid.getString("principal")).isEqualTo(SecuredNode.CALLER);
      assertThat(forbid.getString("outcome")).isEqualTo("forbidden");
      JsonObject del = line(lines, "session.delete", "cid-del");
      assertThat(del.getString("principal")).isEqualTo(SecuredNode.CALLER);
      assertThat(del.getString("target")).isEqualTo("s-a");
      assertThat(del.getString("outcome")).isEqualTo("ok");
      assertThat(line(lines, "sessions.export", "cid-export").getString("principal")).isEqualTo(SecuredNode.OPERATOR);
      assertThat(line(lines, "sessions.import", "cid-import").getString("outcome")).isEqualTo("ok");
      JsonObject reload = line(lines, "pool.reload", "cid-reload");
      assertThat(reload.getString("target")).isEqualTo("default");
      assertThat(reload.getString("principal")).isEqualTo(SecuredNode.ADMIN);
      JsonObject keys = line(lines, "keys.changed", null);
      assertThat(keys.getJsonArray("added").getList()).containsExactly("carol");
      assertThat(keys.getJsonArray("removed").getList()).containsExactly(SecuredNode.OTHER_CALLER);
      assertThat(line(lines, "auth.failed", "cid-bob").getString("outcome")).isEqualTo("unauthenticated");
      assertThat(line(lines, "node.drain", "cid-drain").getString("principal")).isEqualTo(SecuredNode.ADMIN);
      assertThat(line(lines, "keys.loaded", null).getInteger("keys")).isEqualTo(6);
      assertThat(line(lines, "node.start", null).getBoolean("api_keys")).isTrue();
      assertThat(lines).allSatisfy(l -> assertThat(l.getString("ts")).isNotBlank());

      String everything = Files.readString(audit) + String.join("\n", logs.list.stream()
          .map(ILoggingEvent::getFormattedMessage).toList());
      for (String key : n.keys.values()) {
        assertThat(everything).doesNotContain(key).doesNotContain(key.substring(3));
      }
      assertThat(everything).doesNotContain(carolKey.substring(3)).doesNotContain("\"half");
    } finally {
      root.detachAppender(logs);
      n.close();
    }
  }
}
