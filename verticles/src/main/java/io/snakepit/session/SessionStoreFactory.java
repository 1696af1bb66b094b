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
   * @param config the adapter's section of the configuration, {@code sessions.<name>}
   */
  io.vertx.core.Future<SessionStore> create(Vertx vertx, SessionSettings settings, JsonObject config);

  /**
   * Checks this adapter's section of the configuration without opening
   * anything, so that a node can refuse a mistake before it starts (and before
   * it joins a cluster). Throws {@link io.snakepit.config.ConfigException}
   * naming the full key ({@code sessions.<name>.<key>}). {@link #create} must
   * accept whatever this accepts. The default accepts anything, leaving the
   * checks to {@link #create}.
   *
   * @param config the adapter's section, {@code sessions.<name>} (empty when absent)
   */
  default void validate(JsonObject config, SessionSettings settings) {
  }
}
