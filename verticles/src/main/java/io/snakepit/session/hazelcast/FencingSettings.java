package io.snakepit.session.hazelcast;

import io.snakepit.config.ConfigException;
import io.snakepit.config.ConfigReader;
import io.vertx.core.json.JsonObject;

/**
 * The {@code sessions.hazelcast.fencing} section: the ownership lease that
 * fences a node that was paused ({@link LeaseKeeper}, docs/cluster.md "Fencing").
 *
 * @param enabled         whether the lease is kept and checked (default true)
 * @param leaseMs         the longest pause a node survives without re-validating; must be shorter than
 *                        Hazelcast's failure detection ({@code hazelcast.max.no.heartbeat.seconds})
 * @param rejoinTimeoutMs how long a paused node waits for a member it knew to confirm it, before it serves on
 *                        its own side as any side of a partition does
 */
record FencingSettings(boolean enabled, long leaseMs, long rejoinTimeoutMs) {

  static final long DEFAULT_LEASE_MS = 2_500;
  static final long DEFAULT_REJOIN_TIMEOUT_MS = 30_000;

  static FencingSettings parse(JsonObject section) {
    ConfigReader r = new ConfigReader(section == null ? new JsonObject() : section, "sessions.hazelcast.fencing");
    boolean enabled = r.bool("enabled", true);
    long lease = r.longValue("lease-ms", DEFAULT_LEASE_MS, 100, 600_000);
    long rejoin = r.longValue("rejoin-timeout-ms", DEFAULT_REJOIN_TIMEOUT_MS, 1_000, 86_400_000);
    r.rejectUnknownKeys();
    return new FencingSettings(enabled, lease, rejoin);
  }

  /**
   * Checks the lease against the member's failure detection: a lease as long
   * as the detector's timeout would let a paused node act after the others
   * dropped it.
   */
  void checkAgainst(long maxNoHeartbeatMs) {
    if (enabled && leaseMs >= maxNoHeartbeatMs) {
      throw new ConfigException("sessions.hazelcast.fencing.lease-ms (" + leaseMs + ") must be shorter than "
          + "Hazelcast's failure detection, hazelcast.max.no.heartbeat.seconds (" + maxNoHeartbeatMs + " ms); "
          + "half of it is a good value");
    }
  }
}
