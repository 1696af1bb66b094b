package io.snakepit.session.hazelcast;

import com.hazelcast.core.HazelcastJsonValue;
import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import io.snakepit.session.Session;
import io.snakepit.session.SessionLimits;
import io.vertx.core.json.JsonObject;
import java.io.IOException;

/**
 * How a {@link Session} is kept in the map: a {@link HazelcastJsonValue} of
 * {@link Session#toStorageJson()} plus a top-level boolean {@code "deleted"}.
 *
 * <p>Why JSON rather than a custom binary form: it is the session's own
 * canonical storage form (export, the memory adapter's file), it stays
 * readable by any Hazelcast client and Management Center without our classes,
 * and Hazelcast queries it natively ({@code deleted = false}, {@code __key >
 * cursor}) so that listing and counting skip tombstones on the members.
 */
final class StoredSession {

  static final String DELETED = "deleted";

  private StoredSession() {
  }

  static HazelcastJsonValue encode(Session s) {
    JsonObject j = s.toStorageJson();
    j.put(DELETED, s.isDeleted());
    return new HazelcastJsonValue(j.encode());
  }

  /** The stored session, or null for null. */
  static Session decode(Object v) {
    if (v == null) {
      return null;
    }
    return Session.fromStorageJson(new JsonObject(v.toString()));
  }

  static Session decodeJson(String json) {
    return json == null ? null : Session.fromStorageJson(new JsonObject(json));
  }

  static String json(Session s) {
    return s == null ? null : s.toStorageJson().encode();
  }

  /** Whether it is a session a client may see: present, not a tombstone, not expired at {@code now}. */
  static boolean live(Session s, long now) {
    return s != null && !s.isDeleted() && !s.isExpired(now);
  }

  /** The same session with another version. */
  static Session withVersion(Session s, long version) {
    return new Session(s.id(), s.createdAt(), s.accessedAt(), s.ttlMs(), version, s.lastNode(), s.lastWorker(),
        s.metadata(), s.programs(), s.variables(), s.deletedHlc());
  }

  /** Whether two copies hold the same content, ignoring the access time and the version. */
  static boolean sameContent(Session a, Session b) {
    if (a == null || b == null) {
      return a == b;
    }
    return normalized(a).equals(normalized(b));
  }

  private static Session normalized(Session s) {
    return new Session(s.id(), s.createdAt(), 0, s.ttlMs(), 0, s.lastNode(), s.lastWorker(), s.metadata(),
        s.programs(), s.variables(), s.deletedHlc());
  }

  // ---- SessionLimits on the wire -----------------------------------------------------------------

  static void writeLimits(ObjectDataOutput out, SessionLimits l) throws IOException {
    out.writeLong(l.maxSessions());
    out.writeInt(l.maxVariables());
    out.writeInt(l.maxValueBytes());
    out.writeInt(l.maxPrograms());
    out.writeInt(l.maxProgramBytes());
    out.writeInt(l.maxMetadataBytes());
    out.writeInt(l.maxNameLength());
    out.writeLong(l.defaultTtlMs());
    out.writeLong(l.maxTtlMs());
    out.writeInt(l.maxUpdateRetries());
    out.writeLong(l.touchGranularityMs());
  }

  static SessionLimits readLimits(ObjectDataInput in) throws IOException {
    return new SessionLimits(in.readLong(), in.readInt(), in.readInt(), in.readInt(), in.readInt(), in.readInt(),
        in.readInt(), in.readLong(), in.readLong(), in.readInt(), in.readLong());
  }
}
