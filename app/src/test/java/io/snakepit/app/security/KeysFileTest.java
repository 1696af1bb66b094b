package io.snakepit.app.security;

import static io.snakepit.app.CliRun.cli;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.snakepit.app.CliRun;
import io.snakepit.config.ConfigException;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The keys file and {@code snakepit keys add | list | remove}. */
class KeysFileTest {

  @TempDir
  Path dir;

  @Test
  void addPrintsTheKeyOnceAndTheFileKeepsOnlyItsHashReadableByItsOwner() throws Exception {
    Path file = dir.resolve("keys.json");
    CliRun r = cli("keys", "add", "ci", "--role", "caller", "--pools", "default,gpu", "--file", file.toString());
    assertThat(r.code()).isZero();
    String key = r.out().strip();
    assertThat(key).startsWith("sp_").hasSize(3 + 43);
    assertThat(r.err()).contains("added key 'ci' (caller)").doesNotContain(key);
    String text = Files.readString(file);
    assertThat(text).doesNotContain(key).contains(KeysFile.hash(key));
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");

    Map<String, KeysFile.Entry> keys = KeysFile.parse(text, "keys.json");
    Principal p = keys.get(KeysFile.hash(key)).principal();
    assertThat(p.name()).isEqualTo("ci");
    assertThat(p.role()).isEqualTo(Role.CALLER);
    assertThat(p.pools()).containsExactlyInAnyOrder("default", "gpu");
    assertThat(p.tools()).isEmpty();

    CliRun list = cli("keys", "list", "--json", "--file", file.toString());
    assertThat(list.code()).isZero();
    assertThat(new JsonObject(list.out()).getJsonArray("keys").getJsonObject(0).fieldNames())
        .contains("name", "role", "pools").doesNotContain("sha256");
    assertThat(cli("keys", "list", "--file", file.toString()).out()).contains("ci").contains("caller")
        .contains("default,gpu");
  }

  @Test
  void aSecondKeyOfOneNameABadRoleOrAnUnknownNameChangeNothing() throws Exception {
    Path file = dir.resolve("keys.json");
    assertThat(cli("keys", "add", "ci", "--role", "admin", "--file", file.toString()).code()).isZero();
    String before = Files.readString(file);
    CliRun twice = cli("keys", "add", "ci", "--role", "admin", "--file", file.toString());
    assertThat(twice.code()).isEqualTo(2);
    assertThat(twice.err()).contains("has a key named 'ci' already");
    CliRun badRole = cli("keys", "add", "x", "--role", "root", "--file", file.toString());
    assertThat(badRole.code()).isEqualTo(2);
    assertThat(badRole.err()).contains("--role must be caller, reader, operator or admin");
    assertThat(cli("keys", "remove", "nobody", "--file", file.toString()).code()).isEqualTo(2);
    assertThat(Files.readString(file)).isEqualTo(before);

    assertThat(cli("keys", "remove", "ci", "--file", file.toString()).code()).isZero();
    assertThat(KeysFile.parse(Files.readString(file), "f")).isEmpty();
  }

  @Test
  void aBrokenFileIsRefusedNamingTheEntry() throws Exception {
    assertThatThrownBy(() -> KeysFile.parse("{\"keys\": [{\"name\": \"a\", \"role\": \"god\", \"sha256\": \""
        + "0".repeat(64) + "\"}]}", "k.json")).isInstanceOf(ConfigException.class)
        .hasMessageContaining("k.json keys[0]").hasMessageContaining("'role'");
    assertThatThrownBy(() -> KeysFile.parse("[]", "k.json")).isInstanceOf(ConfigException.class);
    String twice = "{\"name\": \"a\", \"role\": \"caller\", \"sha256\": \"" + "1".repeat(64) + "\"}";
    assertThatThrownBy(() -> KeysFile.parse("{\"keys\": [" + twice + "," + twice.replace('1', '2') + "]}", "k"))
        .hasMessageContaining("used twice");
    Path broken = dir.resolve("broken.json");
    Files.writeString(broken, "{\"keys\": [1]}");
    CliRun r = cli("keys", "add", "x", "--role", "caller", "--file", broken.toString());
    assertThat(r.code()).isEqualTo(2);
    assertThat(r.err()).contains("is not usable");
    assertThat(Files.readString(broken)).isEqualTo("{\"keys\": [1]}");
  }
}
