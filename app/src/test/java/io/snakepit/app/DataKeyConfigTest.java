package io.snakepit.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.snakepit.config.ConfigException;
import io.snakepit.session.sealing.DataKeyRing;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** sessions.encryption is checked before anything starts: a bad key file is a configuration error naming it. */
class DataKeyConfigTest {

  private static JsonObject withKeyFile(Object keyFile) {
    return new JsonObject().put("sessions", new JsonObject().put("encryption",
        new JsonObject().put("key-file", keyFile)));
  }

  @Test
  void aMissingOrMalformedKeyFileStopsTheNodeNamingTheSetting(@TempDir Path dir) throws Exception {
    Path missing = dir.resolve("nope");
    assertThatThrownBy(() -> NodeConfig.fromJson(withKeyFile(missing.toString()), "n"))
        .isInstanceOf(ConfigException.class).hasMessageContaining("sessions.encryption.key-file")
        .hasMessageContaining("nope");
    Path bad = dir.resolve("bad");
    Files.writeString(bad, "# a comment\nk1=c2hvcnQ=\n");
    assertThatThrownBy(() -> NodeConfig.fromJson(withKeyFile(bad.toString()), "n"))
        .isInstanceOf(ConfigException.class).hasMessageContaining("sessions.encryption.key-file")
        .hasMessageContaining("line 2").hasMessageContaining("must be 32 bytes").hasMessageNotContaining("c2hvcnQ=");
    assertThatThrownBy(() -> NodeConfig.fromJson(withKeyFile(""), "n")).isInstanceOf(ConfigException.class)
        .hasMessageContaining("sessions.encryption.key-file");
    assertThatThrownBy(() -> NodeConfig.fromJson(new JsonObject().put("sessions", new JsonObject()
        .put("encryption", new JsonObject().put("keyfile", "x"))), "n"))
        .isInstanceOf(ConfigException.class).hasMessageContaining("sessions.encryption.keyfile");
  }

  @Test
  void aGoodKeyFileIsAccepted(@TempDir Path dir) throws Exception {
    Path good = dir.resolve("keys");
    Files.writeString(good, DataKeyRing.newKeyLine(1) + "\n");
    NodeConfig cfg = NodeConfig.fromJson(withKeyFile(good.toString()), "n");
    assertThat(cfg.sessions().getJsonObject("sessions").getJsonObject("encryption").getString("key-file"))
        .isEqualTo(good.toString());
  }
}
