package io.snakepit.session.memory;

import io.snakepit.config.ConfigReader;
import io.snakepit.session.SessionSettings;
import io.snakepit.session.SessionStore;
import io.snakepit.session.SessionStoreFactory;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;

/**
 * Makes the {@code memory} adapter. Its keys, under {@code sessions.memory}:
 * {@code persistence} (default true when the node has a data directory),
 * {@code durability} ({@code commit}, {@code sync} or {@code write-behind}) and
 * {@code write-behind-ms}.
 */
public final class MemorySessionStoreFactory implements SessionStoreFactory {

  @Override
  public String name() {
    return "memory";
  }

  @Override
  public Future<SessionStore> create(Vertx vertx, SessionSettings settings, JsonObject config) {
    SessionFile.Durability durability;
    boolean persistent;
    long writeBehindMs;
    try {
      ConfigReader r = new ConfigReader(config, "sessions.memory");
      persistent = r.bool("persistence", settings.dataDir() != null);
      String d = r.oneOf("durability", "commit", "commit", "sync", "write-behind");
      writeBehindMs = r.longValue("write-behind-ms", 100, 0, 60_000);
      r.rejectUnknownKeys();
      durability = SessionFile.Durability.valueOf(d.toUpperCase().replace('-', '_'));
      if (persistent && settings.dataDir() == null) {
        throw new io.snakepit.config.ConfigException("sessions.memory.persistence needs a data-dir");
      }
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
    return vertx.executeBlocking(() -> {
      MemorySessionStore store = new MemorySessionStore(vertx, settings);
      if (persistent) {
        store.attach(new SessionFile(Path.of(settings.dataDir(), "sessions.mv.db"), durability, writeBehindMs,
            store::stored));
      }
      store.open();
      return store;
    }, false);
  }
}
