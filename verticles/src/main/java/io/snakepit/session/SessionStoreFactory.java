package io.snakepit.session;

import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;

/**
 * Makes a {@link SessionStore}. Factories are found with
 * {@link java.util.ServiceLoader}: list your class in
 * {@code META-INF/services/io.snakepit.session.SessionStoreFactory} and set
 * {@code sessions.adapter} to its {@link #name()} (or its class name).
 */
public interface SessionStoreFactory {

  /** The name configuration uses to pick this adapter. */
  String name();

  /**
   * Creates and opens a store. May do blocking work only inside
   * {@code vertx.executeBlocking}.
   *
   * @param config the {@code sessions} section of the configuration
   */
  io.vertx.core.Future<SessionStore> create(Vertx vertx, SessionSettings settings, JsonObject config);
}
