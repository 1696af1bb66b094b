package io.snakepit.session.migration;

import io.snakepit.config.ConfigException;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.snakepit.session.SessionSettings;
import io.snakepit.session.SessionStore;
import io.snakepit.session.SessionStoreFactory;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/**
 * Opens a store of any adapter found by {@link ServiceLoader}, by name, with the node's settings but a data
 * directory of its own (two stores of one adapter must not share files).
 */
final class AdapterStores {

  private final Vertx vertx;
  private final SessionSettings base;

  AdapterStores(Vertx vertx, SessionSettings base) {
    this.vertx = vertx;
    this.base = base;
  }

  /** The adapters' names, as ServiceLoader finds them. */
  static List<String> known() {
    List<String> names = new ArrayList<>();
    ServiceLoader.load(SessionStoreFactory.class).forEach(f -> names.add(f.name()));
    return names;
  }

  /** The factory; {@code bad_request} listing the known adapters when there is none of that name. */
  static SessionStoreFactory factory(String adapter) {
    for (SessionStoreFactory f : ServiceLoader.load(SessionStoreFactory.class)) {
      if (f.name().equals(adapter) || f.getClass().getName().equals(adapter)) {
        return f;
      }
    }
    List<String> known = known();
    throw new SnakepitException(ErrorCode.BAD_REQUEST, "'to' names no known session adapter: \"" + adapter
        + "\". Use one of " + String.join(", ", known) + " (custom adapters are found through META-INF/services/"
        + SessionStoreFactory.class.getName() + "). Nothing was changed.", null,
        new JsonObject().put("adapters", new JsonArray(known)));
  }

  /** The settings a store in {@code dataDir} is made with: the node's, with that directory. */
  SessionSettings settingsIn(String dataDir) {
    return new SessionSettings(base.nodeId(), base.clock(), base.limits(), dataDir, base.sweepIntervalMs(),
        base.tombstoneTtlMs());
  }

  /** Checks the adapter's section without opening anything; {@code bad_request} naming the mistake. */
  void validate(String adapter, JsonObject config, String dataDir) {
    try {
      factory(adapter).validate(config, settingsIn(dataDir));
    } catch (ConfigException e) {
      throw new SnakepitException(ErrorCode.BAD_REQUEST, "'settings' are not valid for the " + adapter
          + " adapter: " + e.getMessage() + ". Nothing was changed.");
    }
  }

  /** Opens a store. */
  Future<SessionStore> open(String adapter, JsonObject config, String dataDir) {
    try {
      return factory(adapter).create(vertx, settingsIn(dataDir), config);
    } catch (RuntimeException e) {
      return Future.failedFuture(e);
    }
  }
}
