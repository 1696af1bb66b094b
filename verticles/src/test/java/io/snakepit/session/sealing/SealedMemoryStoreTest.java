package io.snakepit.session.sealing;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.contract.ErrorCode;
import io.snakepit.session.HybridLogicalClock;
import io.snakepit.session.Session;
import io.snakepit.session.SessionSettings;
import io.snakepit.session.SessionStore;
import io.snakepit.session.Stamped;
import io.snakepit.session.compliance.SessionStoreCompliance;
import io.snakepit.session.compliance.SessionStoreTestSupport;
import io.snakepit.session.memory.MemorySessionStoreFactory;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * The sealed store over the memory adapter: the compliance kit (encryption changes no guarantee), the file
 * holding no plaintext, an old unencrypted file read and sealed, and rotation.
 */
class SealedMemoryStoreTest {

  static final String SECRET = "correct-horse-battery-staple";

  @Nested
  class Compliance extends SessionStoreCompliance {
    @Override
    protected Future<SessionStore> newStore(Vertx vertx, SessionSettings settings) {
      DataKeyRing ring = DataKeyRing.parse(DataKeyRing.newKeyLine(1), "test");
      return new MemorySessionStoreFactory().create(vertx, settings, new JsonObject().put("persistence", true))
          .map(s -> new SealedSessionStore(s, () -> ring, true));
    }
  }

  @Nested
  class OnFile extends SessionStoreTestSupport {

    private final AtomicReference<DataKeyRing> ring =
        new AtomicReference<>(DataKeyRing.parse(DataKeyRing.newKeyLine(1), "test"));
    private boolean seal = true;

    @Override
    protected Future<SessionStore> newStore(Vertx vertx, SessionSettings settings) {
      return new MemorySessionStoreFactory().create(vertx, settings, new JsonObject().put("persistence", true))
          .map(s -> seal ? new SealedSessionStore(s, ring::get, true) : s);
    }

    private SessionSettings on(Path dir) {
      return new SessionSettings(NODE, new HybridLogicalClock(), limits(), dir.toString(), 200, 3_600_000);
    }

    private static boolean fileContains(Path dir, String text) throws Exception {
      byte[] needle = text.getBytes(StandardCharsets.UTF_8);
      try (Stream<Path> files = Files.list(dir)) {
        for (Path f : files.toList()) {
          byte[] b = Files.readAllBytes(f);
          outer:
          for (int i = 0; i + needle.length <= b.length; i++) {
            for (int j = 0; j < needle.length; j++) {
              if (b[i + j] != needle[j]) {
                continue outer;
              }
            }
            return true;
          }
        }
      }
      return false;
    }

    @Test
    void theFileHoldsNoPlaintextAndReadsBackWithTheKey() throws Exception {
      Path dir = newDataDir();
      SessionStore first = open(on(dir));
      await(first.create("s1", 600_000, new JsonObject().put("owner", SECRET + "-meta")));
      await(first.putVariable("s1", "v", SECRET + "-var"));
      await(first.putProgram("s1", "p", new JsonObject().put("code", SECRET + "-program")));
      close(first);
      assertThat(fileContains(dir, "s1")).isTrue(); // ids stay in clear: the scan does find what is there
      assertThat(fileContains(dir, SECRET)).isFalse();

      SessionStore second = open(on(dir));
      Session s = await(second.get("s1"));
      assertThat(s.variable("v")).isEqualTo(SECRET + "-var");
      assertThat(s.metadata().get("owner").value()).isEqualTo(SECRET + "-meta");
      assertThat(await(second.getProgram("s1", "p")).getString("code")).isEqualTo(SECRET + "-program");
    }

    @Test
    void anOldUnencryptedFileIsReadAndTheRotationSealsIt() throws Exception {
      Path dir = newDataDir();
      seal = false;
      SessionStore plain = open(on(dir));
      await(plain.create("old", 600_000, new JsonObject().put("m", "clear-meta")));
      await(plain.putVariable("old", "v", "clear-var"));
      await(plain.increment("old", "n", 5));
      close(plain);

      seal = true;
      SealedSessionStore sealed = (SealedSessionStore) open(on(dir));
      assertThat(await(sealed.get("old")).variable("v")).isEqualTo("clear-var");
      // A write seals what it writes; the rest stays as it was until the rotation.
      await(sealed.putVariable("old", "w", "new-var"));
      Session raw = await(sealed.sealedStore().get("old"));
      assertThat(ValueSealer.isSealed(raw.variables().get("w").value())).isTrue();
      assertThat(raw.variables().get("v").value()).isEqualTo("clear-var");

      DataKeyRotation rotation = new DataKeyRotation(sealed, () -> Future.succeededFuture(ring.get()));
      await(rotation.start());
      pollUntil("rotation done", Duration.ofSeconds(30), () -> "done".equals(rotation.status().getString("state")));
      assertThat(rotation.status().getLong("resealed")).isEqualTo(1L);
      raw = await(sealed.sealedStore().get("old"));
      assertThat(raw.variables().get("v").value()).asString().startsWith(ValueSealer.PREFIX);
      assertThat(raw.metadata().get("m").value()).asString().startsWith(ValueSealer.PREFIX);
      assertThat(raw.variables().get("n").isCounter()).isTrue(); // counters stay in clear, by design
      Session s = await(sealed.get("old"));
      assertThat(s.variable("v")).isEqualTo("clear-var");
      assertThat(s.variable("n")).isEqualTo(5L);
    }

    @Test
    void aForgedValueInTheStoreIsRefusedWithIntegrityFailed() {
      Path dir = newDataDir();
      SealedSessionStore sealed = (SealedSessionStore) open(on(dir));
      await(sealed.create("s", 600_000, null));
      await(sealed.putVariable("s", "x", "real"));
      await(sealed.create("t", 600_000, null));
      await(sealed.putVariable("t", "x", "other"));
      Object fromT = await(sealed.sealedStore().get("t")).variables().get("x").value();
      // Writes straight into the store underneath, as a process without the key could.
      SessionStore under = sealed.sealedStore();
      await(under.update("s", x -> x.withVariable("forged", Stamped.of(ValueSealer.PREFIX + ring.get().activeId()
          + ":AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 1, "evil"))));
      awaitFailure(sealed.get("s"), ErrorCode.INTEGRITY_FAILED);
      awaitFailure(sealed.getVariable("s", "forged"), ErrorCode.INTEGRITY_FAILED);
      await(under.update("s", x -> x.withVariable("forged", Stamped.of(fromT, 2, "evil"))));
      awaitFailure(sealed.getVariable("s", "forged"), ErrorCode.INTEGRITY_FAILED); // moved from session t
      assertThat(await(sealed.getVariable("t", "x"))).isEqualTo("other");
      // a listing leaves the refused session out instead of failing
      assertThat(await(sealed.list(null, 10)).sessions()).extracting(Session::id).containsExactly("t");
    }

    @Test
    void afterANewKeyNewWritesUseItAndOldValuesStillRead() {
      Path dir = newDataDir();
      SealedSessionStore sealed = (SealedSessionStore) open(on(dir));
      await(sealed.create("s", 600_000, null));
      await(sealed.putVariable("s", "a", 1));
      String oldKey = ring.get().activeId();
      ring.set(DataKeyRing.parse(lines(oldKey) + "\n" + DataKeyRing.newKeyLine(2), "test"));
      await(sealed.putVariable("s", "b", 2));
      Session raw = await(sealed.sealedStore().get("s"));
      assertThat(ValueSealer.keyIdOf(raw.variables().get("a").value())).isEqualTo(oldKey);
      assertThat(ValueSealer.keyIdOf(raw.variables().get("b").value())).isEqualTo(ring.get().activeId());
      assertThat(await(sealed.get("s")).variablesJson()).isEqualTo(new JsonObject().put("a", 1).put("b", 2));
    }

    private String lines(String id) {
      return id + "=" + java.util.Base64.getEncoder().encodeToString(ring.get().key(id).getEncoded());
    }
  }
}
