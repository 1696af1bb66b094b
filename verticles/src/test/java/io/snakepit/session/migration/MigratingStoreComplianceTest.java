package io.snakepit.session.migration;

import io.snakepit.session.SessionSettings;
import io.snakepit.session.SessionStore;
import io.snakepit.session.compliance.SessionStoreCompliance;
import io.snakepit.session.memory.MemorySessionStoreFactory;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import org.junit.jupiter.api.Nested;

/**
 * The compliance kit over a {@link MigratingSessionStore} between two memory stores, in the phases where both
 * are written: the decorator must keep the SPI's contract whichever store answers.
 */
class MigratingStoreComplianceTest {

  static Future<SessionStore> pair(Vertx vertx, SessionSettings settings, MigrationPhase phase) {
    MemorySessionStoreFactory f = new MemorySessionStoreFactory();
    JsonObject cfg = new JsonObject().put("persistence", true);
    // The target in a directory of its own, with the same clock and node: as the node makes it.
    SessionSettings targetSettings = new SessionSettings(settings.nodeId(), settings.clock(), settings.limits(),
        Path.of(settings.dataDir(), "target").toString(), settings.sweepIntervalMs(), settings.tombstoneTtlMs());
    return f.create(vertx, settings, cfg).compose(source -> f.create(vertx, targetSettings, cfg)
        .map(target -> new MigratingSessionStore(phase, source, target)));
  }

  @Nested
  class DualWrite extends SessionStoreCompliance {
    @Override
    protected Future<SessionStore> newStore(Vertx vertx, SessionSettings settings) {
      return pair(vertx, settings, MigrationPhase.DUAL_WRITE);
    }
  }

  @Nested
  class Cutover extends SessionStoreCompliance {
    @Override
    protected Future<SessionStore> newStore(Vertx vertx, SessionSettings settings) {
      return pair(vertx, settings, MigrationPhase.CUTOVER);
    }
  }
}
