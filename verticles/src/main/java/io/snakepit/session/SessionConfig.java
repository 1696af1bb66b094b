package io.snakepit.session;

import io.snakepit.config.ConfigException;
import io.snakepit.config.ConfigReader;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/**
 * The session-storage verticle's configuration, parsed and checked in full:
 * {@code {"node-id", "data-dir"?, "sessions": {"adapter", "limits",
 * "sweep-interval-ms", "tombstone-ttl-s", "<adapter>": {...}}}}. The verticle
 * starts from it, and a node calls {@link #fromJson} before anything starts,
 * so that a mistake under {@code sessions.*} stops the node at once with a
 * message naming the key, not after it has joined its cluster.
 *
 * @param factory       the chosen adapter
 * @param adapterConfig the chosen adapter's own section, {@code sessions.<adapter>}
 * @param settings      what every adapter is given besides its own section
 * @param dataKeyFile   {@code sessions.encryption.key-file}: the data keys that seal session values; null when
 *                      session encryption is off
 */
public record SessionConfig(SessionStoreFactory factory, JsonObject adapterConfig, SessionSettings settings,
                            String dataKeyFile) {

  /**
   * Parses and validates; throws {@link ConfigException} naming the full key.
   * Besides the chosen adapter's section, the section of every other known
   * adapter that is present is checked too: a typo there would otherwise wait
   * for the day that adapter is chosen (as {@code cluster: true} does for
   * {@code hazelcast}).
   */
  public static SessionConfig fromJson(JsonObject config) {
    String nodeId = config.getString("node-id");
    if (nodeId == null) {
      throw new ConfigException("node-id is required");
    }
    String dataDir = config.getString("data-dir");
    ConfigReader r = new ConfigReader(new ConfigReader(config, "").object("sessions"), "sessions");
    String adapter = r.string("adapter", "memory");
    SessionLimits limits = SessionLimits.fromJson(r.object("limits"), "sessions.limits");
    long sweep = r.longValue("sweep-interval-ms", 1000, 10, 3_600_000);
    long tombstoneTtl = r.longValue("tombstone-ttl-s", 3600, 1, 30 * 86_400L) * 1000;
    SessionStoreFactory factory = findFactory(adapter);
    SessionSettings settings = new SessionSettings(nodeId, new HybridLogicalClock(), limits, dataDir, sweep,
        tombstoneTtl);
    JsonObject adapterConfig = r.object(factory.name());
    ConfigReader encryption = new ConfigReader(r.object("encryption"), "sessions.encryption");
    String keyFile = encryption.string("key-file", null);
    if (keyFile != null && keyFile.isBlank()) {
      throw new ConfigException("sessions.encryption.key-file must name a file, or be left out to store sessions "
          + "unencrypted");
    }
    encryption.rejectUnknownKeys();
    for (SessionStoreFactory f : ServiceLoader.load(SessionStoreFactory.class)) {
      if (f.name().equals(factory.name())) {
        continue;
      }
      if (r.has(f.name())) {
        f.validate(r.object(f.name()), settings);
      }
    }
    r.rejectUnknownKeys();
    factory.validate(adapterConfig, settings);
    return new SessionConfig(factory, adapterConfig, settings, keyFile);
  }

  /** Finds an adapter by name, or by the class name of its factory. */
  static SessionStoreFactory findFactory(String adapter) {
    List<String> known = new ArrayList<>();
    for (SessionStoreFactory f : ServiceLoader.load(SessionStoreFactory.class)) {
      if (f.name().equals(adapter) || f.getClass().getName().equals(adapter)) {
        return f;
      }
      known.add(f.name());
    }
    throw new ConfigException("sessions.adapter \"" + adapter + "\" is not a known session adapter; known: "
        + String.join(", ", known) + " (custom adapters are found through META-INF/services/"
        + SessionStoreFactory.class.getName() + ")");
  }
}
