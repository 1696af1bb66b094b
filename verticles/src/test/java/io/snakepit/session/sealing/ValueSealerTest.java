package io.snakepit.session.sealing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.snakepit.config.ConfigException;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.snakepit.session.sealing.ValueSealer.Kind;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ValueSealerTest {

  private static final DataKeyRing ONE = DataKeyRing.parse(DataKeyRing.newKeyLine(1), "test");

  private static ErrorCode refusal(Runnable r) {
    try {
      r.run();
    } catch (SnakepitException e) {
      return e.errorCode();
    }
    throw new AssertionError("expected a refusal");
  }

  @Test
  void everyJsonValueComesBackAsItWent() {
    List<Object> values = Arrays.asList("text", "", "ünïcødé ✓", 42, 3.5, true, null,
        new JsonObject().put("a", new JsonArray().add(1).addNull()), new JsonArray().add("x"), Long.MAX_VALUE,
        "$sp1:k:looks-sealed-but-is-a-value");
    for (Object v : values) {
      String sealed = ValueSealer.seal(ONE, "s1", Kind.VARIABLE, "x", v);
      assertThat(sealed).startsWith(ValueSealer.PREFIX + ONE.activeId() + ":");
      Object back = ValueSealer.open(ONE, "s1", Kind.VARIABLE, "x", sealed);
      assertThat(back == null ? null : new JsonArray().add(back).encode())
          .isEqualTo(v == null ? null : new JsonArray().add(v).encode());
    }
  }

  @Test
  void theCiphertextHoldsNoPlaintextAndTwoSealsOfOneValueDiffer() {
    String a = ValueSealer.seal(ONE, "s1", Kind.VARIABLE, "x", "secret-value-123");
    String b = ValueSealer.seal(ONE, "s1", Kind.VARIABLE, "x", "secret-value-123");
    assertThat(a).doesNotContain("secret").isNotEqualTo(b); // a fresh random nonce each time
  }

  @Test
  void aChangedByteAnywhereIsRefused() {
    String sealed = ValueSealer.seal(ONE, "s1", Kind.VARIABLE, "x", "value");
    int start = sealed.lastIndexOf(':') + 1;
    byte[] raw = Base64.getUrlDecoder().decode(sealed.substring(start));
    for (int i = 0; i < raw.length; i++) {
      byte[] changed = raw.clone();
      changed[i] ^= 0x01;
      String tampered = sealed.substring(0, start) + Base64.getUrlEncoder().withoutPadding().encodeToString(changed);
      assertThat(refusal(() -> ValueSealer.open(ONE, "s1", Kind.VARIABLE, "x", tampered)))
          .isEqualTo(ErrorCode.INTEGRITY_FAILED);
    }
  }

  @Test
  void aValueMovedToAnotherSessionKindOrNameIsRefused() {
    String sealed = ValueSealer.seal(ONE, "s1", Kind.VARIABLE, "x", "value");
    assertThat(refusal(() -> ValueSealer.open(ONE, "s2", Kind.VARIABLE, "x", sealed)))
        .isEqualTo(ErrorCode.INTEGRITY_FAILED);
    assertThat(refusal(() -> ValueSealer.open(ONE, "s1", Kind.METADATA, "x", sealed)))
        .isEqualTo(ErrorCode.INTEGRITY_FAILED);
    assertThat(refusal(() -> ValueSealer.open(ONE, "s1", Kind.VARIABLE, "y", sealed)))
        .isEqualTo(ErrorCode.INTEGRITY_FAILED);
    // Length-prefixed AAD: shifting characters between id and name does not make the same AAD.
    String ab = ValueSealer.seal(ONE, "a", Kind.VARIABLE, "bc", 1);
    assertThat(refusal(() -> ValueSealer.open(ONE, "ab", Kind.VARIABLE, "c", ab)))
        .isEqualTo(ErrorCode.INTEGRITY_FAILED);
  }

  @Test
  void aForgedValueAnUnknownKeyAndAValueInClearAreRefused() {
    DataKeyRing other = DataKeyRing.parse("k1=" + Base64.getEncoder().encodeToString(new byte[32]), "other");
    String byOther = ValueSealer.seal(other, "s1", Kind.VARIABLE, "x", "forged");
    SnakepitException unknownKey = (SnakepitException) catchRefusal(
        () -> ValueSealer.open(ONE, "s1", Kind.VARIABLE, "x", byOther));
    assertThat(unknownKey.details().getString("key_id")).isEqualTo("k1");
    assertThat(unknownKey.getMessage()).contains("does not hold");
    // The right key id, with a key the attacker made up.
    DataKeyRing sameIdWrongKey = DataKeyRing.parse(ONE.activeId() + "="
        + Base64.getEncoder().encodeToString(new byte[32]), "forger");
    String forged = ValueSealer.seal(sameIdWrongKey, "s1", Kind.VARIABLE, "x", "forged");
    assertThat(refusal(() -> ValueSealer.open(ONE, "s1", Kind.VARIABLE, "x", forged)))
        .isEqualTo(ErrorCode.INTEGRITY_FAILED);
    assertThat(refusal(() -> ValueSealer.open(ONE, "s1", Kind.VARIABLE, "x", "plain")))
        .isEqualTo(ErrorCode.INTEGRITY_FAILED);
    assertThat(refusal(() -> ValueSealer.open(ONE, "s1", Kind.VARIABLE, "x", 7)))
        .isEqualTo(ErrorCode.INTEGRITY_FAILED);
    assertThat(refusal(() -> ValueSealer.open(ONE, "s1", Kind.VARIABLE, "x", ValueSealer.PREFIX + "k:@@")))
        .isEqualTo(ErrorCode.INTEGRITY_FAILED);
  }

  private static Throwable catchRefusal(Runnable r) {
    try {
      r.run();
    } catch (SnakepitException e) {
      return e;
    }
    throw new AssertionError("expected a refusal");
  }

  @Test
  void afterRotationNewValuesUseTheNewKeyAndOldOnesStillOpen() {
    String first = "old=" + Base64.getEncoder().encodeToString(new byte[32]);
    DataKeyRing before = DataKeyRing.parse(first, "f");
    String old = ValueSealer.seal(before, "s", Kind.PROGRAM, "p", "kept");
    DataKeyRing after = DataKeyRing.parse(first + "\n" + DataKeyRing.newKeyLine(2), "f");
    String fresh = ValueSealer.seal(after, "s", Kind.PROGRAM, "p", "new");
    assertThat(ValueSealer.keyIdOf(old)).isEqualTo("old");
    assertThat(ValueSealer.keyIdOf(fresh)).isEqualTo(after.activeId()).isNotEqualTo("old");
    assertThat(ValueSealer.open(after, "s", Kind.PROGRAM, "p", old)).isEqualTo("kept");
    assertThat(ValueSealer.open(after, "s", Kind.PROGRAM, "p", fresh)).isEqualTo("new");
  }

  @Test
  void limitsCountTheSizeOfWhatIsSealed() {
    for (String v : List.of("", "a", "abcdefgh", "x".repeat(1000))) {
      String sealed = ValueSealer.seal(ONE, "s", Kind.VARIABLE, "x", v);
      assertThat(ValueSealer.plainSize(sealed)).isEqualTo(v.length() + 2);
    }
    assertThat(ValueSealer.plainSize("plain")).isEqualTo(-1);
  }

  @Test
  void theKeyFileIsCheckedLineByLineWithoutQuotingAKey() {
    String good = Base64.getEncoder().encodeToString(new byte[32]);
    DataKeyRing ring = DataKeyRing.parse("# comment\n\na=" + good + "\nb = " + good + "\n", "f");
    assertThat(ring.activeId()).isEqualTo("b");
    assertThat(ring.ids()).containsExactly("a", "b");
    assertThat(ring.toString()).doesNotContain(good);
    assertThatThrownBy(() -> DataKeyRing.parse("", "f")).isInstanceOf(ConfigException.class)
        .hasMessageContaining("holds no key");
    assertThatThrownBy(() -> DataKeyRing.parse("a=" + good + "\nnoequals", "f"))
        .hasMessageContaining("f line 2");
    assertThatThrownBy(() -> DataKeyRing.parse("a b=" + good, "f")).hasMessageContaining("key id");
    assertThatThrownBy(() -> DataKeyRing.parse("a=" + Base64.getEncoder().encodeToString(new byte[16]), "f"))
        .hasMessageContaining("must be 32 bytes");
    assertThatThrownBy(() -> DataKeyRing.parse("a=not base64!", "f")).hasMessageContaining("not valid Base64")
        .hasMessageNotContaining("not base64!");
    assertThatThrownBy(() -> DataKeyRing.parse("a=" + good + "\na=" + good, "f"))
        .hasMessageContaining("appears twice");
  }

  @Test
  void anOpenKeyFileIsReported(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("keys");
    Files.writeString(f, DataKeyRing.newKeyLine(3));
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
    assertThat(DataKeyRing.permissionProblem(f)).isNull();
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
    assertThat(DataKeyRing.permissionProblem(f)).contains("chmod 600");
  }
}
