package io.snakepit.session.custom;

import io.snakepit.session.SessionSettings;
import io.snakepit.session.SessionStore;
import io.snakepit.session.SessionStoreFactory;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

/** Makes the {@code test-treemap} adapter; registered in the tests' META-INF/services. */
public final class SynchronizedMapSessionStoreFactory implements SessionStoreFactory {

  public static final String NAME = "test-treemap";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Future<SessionStore> create(Vertx vertx, SessionSettings settings, JsonObject config) {
    SynchronizedMapSessionStore store = new SynchronizedMapSessionStore(settings);
    // A target whose copies of some sessions fail for good, for the migration's tests.
    store.refuseMergesOf(config == null ? null : config.getString("refuse-merges-of"));
    return Future.succeededFuture(store);
  }
}
