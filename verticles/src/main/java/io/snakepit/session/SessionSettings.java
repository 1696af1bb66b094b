package io.snakepit.session;

/**
 * What every session adapter is given besides its own configuration.
 *
 * @param nodeId           this node's id: stamps the writes it makes
 * @param clock            the node's hybrid logical clock
 * @param limits           the limits every change is checked against
 * @param dataDir          the node's data directory, or null when it has none
 * @param sweepIntervalMs  how often expired sessions are swept
 * @param tombstoneTtlMs   how long a delete is remembered
 */
public record SessionSettings(String nodeId, HybridLogicalClock clock, SessionLimits limits, String dataDir,
                              long sweepIntervalMs, long tombstoneTtlMs) {
}
