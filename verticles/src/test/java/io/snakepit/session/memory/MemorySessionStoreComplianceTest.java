package io.snakepit.session.memory;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.contract.ErrorCode;
import io.snakepit.session.HybridLogicalClock;
import io.snakepit.session.Session;
import io.snakepit.session.SessionSettings;
import io.snakepit.session.SessionStore;
import io.snakepit.session.compliance.SessionStoreCompliance;
import io.snakepit.session.compliance.SessionStoreTestSupport;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The compliance kit against the memory adapter, in the heap only and with its file; and reopening. */
class MemorySessionStoreComplianceTest {

  @Nested
  class InMemory extends SessionStoreCompliance {
    @Override
    protected Future<SessionStore> newStore(Vertx vertx, SessionSettings settings) {
      return new MemorySessionStoreFactory().create(vertx, settings, new JsonObject().put("persistence", false));
    }

    @Test
    void reportsNotPersistent() {
      assertThat(await(open().stats()).getBoolean("persistent")).isFalse();
    }
  }

  @Nested
  class Persistent extends SessionStoreCompliance {
    @Override
    protected Future<SessionStore> newStore(Vertx vertx, SessionSettings settings) {
      return new MemorySessionStoreFactory().create(vertx, settings, new JsonObject().put("persistence", true));
    }

    @Test
    void reportsPersistent() {
      assertThat(await(open().stats()).getBoolean("persistent")).isTrue();
    }
  }

  /** A store closed and opened again on the same data directory. */
  @Nested
  class Reopening extends SessionStoreTestSupport {

    private String durability = "commit";

    @Override
    protected Future<SessionStore> newStore(Vertx vertx, SessionSettings settings) {
      return new MemorySessionStoreFactory().create(vertx, settings,
          new JsonObject().put("persistence", true).put("durability", durability));
    }

    private SessionSettings on(Path dir) {
      return new SessionSettings(NODE, new HybridLogicalClock(), limits(), dir.toString(), 200, 3_600_000);
    }

    @ParameterizedTest
    @ValueSource(strings = {"commit", "sync", "write-behind"})
    void everyAcknowledgedWriteIsBackAfterReopening(String mode) {
      durability = mode;
      Path dir = newDataDir();
      SessionStore first = open(on(dir));
      List<Session> written = new ArrayList<>();
      for (int i = 0; i < 50; i++) {
        String id = "keep-" + i;
        await(first.create(id, 600_000, new JsonObject().put("n", i)));
        await(first.putVariable(id, "int", i));
        await(first.putVariable(id, "text", "value " + i));
        await(first.putVariable(id, "obj", new JsonObject().put("list", new JsonArray().add(i).addNull())));
        await(first.putVariable(id, "nothing", null));
        await(first.putVariable(id, "gone", true));
        await(first.deleteVariable(id, "gone"));
        await(first.putProgram(id, "p", new JsonObject().put("code", "x = " + i)));
        written.add(await(first.recordServedBy(id, "node-1", "pool-" + i + ".0")));
      }
      close(first);

      SessionStore second = open(on(dir));
      assertThat(await(second.count())).isEqualTo(50L);
      for (Session w : written) {
        Session r = await(second.get(w.id()));
        assertThat(r.version()).isEqualTo(w.version());
        assertThat(r.variablesJson()).isEqualTo(w.variablesJson());
        assertThat(r.hasVariable("gone")).isFalse();
        assertThat(r.hasVariable("nothing")).isTrue();
        assertThat(await(second.getProgram(w.id(), "p"))).isEqualTo(w.programs().get("p").value());
        assertThat(r.lastWorker()).isEqualTo(w.lastWorker());
        assertThat(r.metadata().get("n").value()).isEqualTo(w.metadata().get("n").value());
        assertThat(r.variables()).isEqualTo(w.variables());
      }
    }

    @Test
    void aDeletedSessionStaysDeletedAfterReopening() {
      Path dir = newDataDir();
      SessionStore first = open(on(dir));
      await(first.create("dead", 600_000, null));
      await(first.putVariable("dead", "x", 1));
      await(first.create("alive", 600_000, null));
      Session stale = await(first.get("dead"));
      assertThat(await(first.delete("dead"))).isTrue();
      close(first);

      SessionStore second = open(on(dir));
      assertThat(await(second.exists("dead"))).isFalse();
      awaitFailure(second.get("dead"), ErrorCode.SESSION_NOT_FOUND);
      assertThat(await(second.exists("alive"))).isTrue();
      assertThat(await(second.count())).isEqualTo(1L);
      // The delete was remembered across the restart: a stale copy cannot bring it back.
      await(second.merge(stale));
      assertThat(await(second.exists("dead"))).isFalse();
      close(second);

      SessionStore third = open(on(dir));
      assertThat(await(third.exists("dead"))).isFalse();
      assertThat(await(third.count())).isEqualTo(1L);
    }
  }
}
