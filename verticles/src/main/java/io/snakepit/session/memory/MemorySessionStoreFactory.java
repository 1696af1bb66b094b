package io.snakepit.session.memory;

import io.snakepit.config.ConfigException;
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

  /** The adapter's own settings, read from {@code sessions.memory}. */
  private record Options(boolean persistent, SessionFile.Durability durability, long writeBehindMs) {

    static Options parse(JsonObject config, SessionSettings settings) {
      ConfigReader r = new ConfigReader(config, "sessions.memory");
      boolean persistent = r.bool("persistence", settings.dataDir() != null);
      String d = r.oneOf("durability", "commit", "commit", "sync", "write-behind");
      long writeBehindMs = r.longValue("write-behind-ms", 100, 0, 60_000);
      r.rejectUnknownKeys();
      if (persistent && settings.dataDir() == null) {
        throw new ConfigException("sessions.memory.persistence needs a data-dir");
      }
      return new Options(persistent, SessionFile.Durability.valueOf(d.toUpperCase().replace('-', '_')),
          writeBehindMs);
    }
  }

  @Override
  public void validate(JsonObject config, SessionSettings settings) {
    Options.parse(config, settings);
  }

  @Override
  public Future<SessionStore> create(Vertx vertx, SessionSettings settings, JsonObject config) {
    Options o;
    try {
      o = Options.parse(config, settings);
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
    return vertx.executeBlocking(() -> {
      MemorySessionStore store = new MemorySessionStore(vertx, settings);
      if (o.persistent()) {
        store.attach(new SessionFile(Path.of(settings.dataDir(), "sessions.mv.db"), o.durability(),
            o.writeBehindMs(), store::stored));
      }
      store.open();
      return store;
    }, false);
  }
}
