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

  /**
   * The session a create asks for, checked against the limits: its id (a
   * generated one for null), its TTL (the default for 0, capped at the
   * maximum) and its metadata, stamped by this node. Every adapter's
   * {@code create} starts here, so they refuse the same requests the same way.
   *
   * @throws io.snakepit.contract.SnakepitException bad_request or limit_exceeded; nothing is created
   */
  public Session newSession(String id, long ttlMs, io.vertx.core.json.JsonObject metadata, long now) {
    String sid = id == null ? SessionIds.generate() : id;
    if (!SessionIds.isValid(sid)) {
      throw SessionErrors.badId(sid);
    }
    long ttl = limits.ttl(ttlMs);
    if (metadata == null || metadata.isEmpty()) {
      return Session.create(sid, now, ttl);
    }
    long hlc = clock.now();
    java.util.Map<String, Stamped> meta = new java.util.HashMap<>();
    for (String k : metadata.fieldNames()) {
      limits.checkMetadataKey(k);
      meta.put(k, Stamped.of(metadata.getValue(k), hlc, nodeId));
    }
    Session fresh = new Session(sid, now, now, ttl, 1, null, null, meta, null, null, 0);
    limits.check(fresh);
    return fresh;
  }
}
