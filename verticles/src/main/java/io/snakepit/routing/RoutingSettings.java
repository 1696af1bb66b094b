package io.snakepit.routing;

import io.snakepit.config.ConfigException;
import io.snakepit.config.ConfigReader;

/**
 * The tunable keys of {@code routing.*}, read and checked in one place: by
 * the node before anything starts, and by {@link RoutingVerticle} when it does.
 *
 * @param heartbeatMs      how often the node announces itself to the ring
 * @param failureTimeoutMs a node silent this long leaves the ring; more than {@code heartbeatMs}
 * @param forwardRetryMs   how long a call waits for its owner while the ring converges
 * @param maxHops          forwarding bound, so that disagreeing rings cannot bounce a call
 */
public record RoutingSettings(long heartbeatMs, long failureTimeoutMs, long forwardRetryMs, int maxHops) {

  /**
   * Reads the tunables from {@code r}; the caller then rejects the keys it
   * has not read ({@link ConfigReader#rejectUnknownKeys()}).
   */
  public static RoutingSettings read(ConfigReader r) {
    long heartbeatMs = r.longValue("heartbeat-ms", 500, 10, 60_000);
    long failureTimeoutMs = r.longValue("failure-timeout-ms", 5_000, 50, 600_000);
    long forwardRetryMs = r.longValue("forward-retry-ms", 15_000, 0, 600_000);
    int maxHops = r.intValue("max-hops", 3, 1, 16);
    if (failureTimeoutMs <= heartbeatMs) {
      throw new ConfigException(r.key("failure-timeout-ms") + " must exceed heartbeat-ms (" + heartbeatMs + "), got "
          + failureTimeoutMs);
    }
    return new RoutingSettings(heartbeatMs, failureTimeoutMs, forwardRetryMs, maxHops);
  }
}
