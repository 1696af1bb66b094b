package io.snakepit.session.custom;

import io.snakepit.session.SessionSettings;
import io.snakepit.session.SessionStore;
import io.snakepit.session.compliance.SessionStoreCompliance;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

/** The compliance kit against a custom adapter, made through its factory as a node would. */
class SynchronizedMapSessionStoreComplianceTest extends SessionStoreCompliance {

  @Override
  protected Future<SessionStore> newStore(Vertx vertx, SessionSettings settings) {
    return new SynchronizedMapSessionStoreFactory().create(vertx, settings, new JsonObject());
  }
}
