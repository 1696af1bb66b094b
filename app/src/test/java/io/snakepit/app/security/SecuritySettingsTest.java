package io.snakepit.app.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.snakepit.app.NodeConfig;
import io.snakepit.config.ConfigException;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code security} section, and the refusal to listen beyond loopback without authentication. */
class SecuritySettingsTest {

  @TempDir
  Path dir;

  private JsonObject config(String host, JsonObject security) {
    return new JsonObject().put("host", host).put("data-dir", dir.toString()).put("security", security);
  }

  @Test
  void aNodeBeyondLoopbackWithoutAuthenticationDoesNotStartAndNamesTheSetting() {
    for (String host : new String[] {"0.0.0.0", "10.1.2.3", "::", "node1.example.com"}) {
      assertThatThrownBy(() -> NodeConfig.fromJson(config(host, new JsonObject()), "n"))
          .as(host).isInstanceOf(ConfigException.class)
          .hasMessageContaining("host " + host + " is not a loopback address")
          .hasMessageContaining("security.api-keys-file").hasMessageContaining("security.insecure: true");
    }
  }

  @Test
  void loopbackOrAuthenticationOrInsecureOnPurposeStarts() {
    for (String host : new String[] {"127.0.0.1", "127.9.9.9", "localhost", "::1", "[::1]"}) {
      assertThat(NodeConfig.fromJson(config(host, new JsonObject()), "n").host()).isEqualTo(host);
    }
    assertThat(NodeConfig.fromJson(config("0.0.0.0", new JsonObject().put("insecure", true)), "n")
        .security().insecure()).isTrue();
    assertThat(NodeConfig.fromJson(config("0.0.0.0", new JsonObject().put("api-keys-file", "/k.json")), "n")
        .security().authenticationEnabled()).isTrue();
  }

  @Test
  void theAuditLogSitsInTheDataDirectoryUnlessMovedOrTurnedOff() {
    assertThat(SecuritySettings.fromJson(new JsonObject(), dir).auditLog()).isEqualTo(dir.resolve("audit.log"));
    assertThat(SecuritySettings.fromJson(new JsonObject().put("audit-log", "/var/log/a.log"), dir).auditLog())
        .isEqualTo(Path.of("/var/log/a.log"));
    assertThat(SecuritySettings.fromJson(new JsonObject().put("audit-log", "off"), dir).auditLog()).isNull();
  }

  @Test
  void mistakesNameTheirKey() {
    assertThatThrownBy(() -> SecuritySettings.fromJson(new JsonObject().put("api-key-file", "x"), dir))
        .isInstanceOf(ConfigException.class).hasMessageContaining("security.api-key-file");
    assertThatThrownBy(() -> SecuritySettings.fromJson(new JsonObject().put("jwt", new JsonObject()
        .put("issuer", "me")), dir)).isInstanceOf(ConfigException.class)
        .hasMessageContaining("exactly one of public-key-file");
    assertThatThrownBy(() -> SecuritySettings.fromJson(new JsonObject().put("jwt", new JsonObject()
        .put("jwks-file", "j").put("algorithm", "none")), dir)).isInstanceOf(ConfigException.class)
        .hasMessageContaining("security.jwt.algorithm");
    assertThatThrownBy(() -> SecuritySettings.fromJson(new JsonObject().put("rate-limits", new JsonObject()
        .put("execute-per-s", -1)), dir)).isInstanceOf(ConfigException.class)
        .hasMessageContaining("security.rate-limits.execute-per-s");
  }
}
