package io.snakepit.session.hazelcast;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastInstanceAware;
import com.hazelcast.core.HazelcastJsonValue;
import com.hazelcast.core.ReadOnly;
import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.ExtendedMapEntry;
import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import com.hazelcast.nio.serialization.IdentifiedDataSerializable;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.snakepit.session.Session;
import io.snakepit.session.SessionLimits;
import io.snakepit.session.Stamped;
import io.snakepit.session.fencing.OwnershipLease;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The entry processors through which every change reaches the map. Each runs
 * atomically on the partition owner of its key, in one round trip from the
 * caller, and then again on each backup replica (Hazelcast re-runs the
 * processor there). So that primary and backups end equal, a processor is
 * deterministic: everything it needs (the time {@code now}, the HLC stamp,
 * the node id, the limits) is computed by the caller and carried in it; it
 * reads no clock and no local state.
 *
 * <p>Every write sets the entry's TTL afresh ({@link ExtendedMapEntry#setValue(Object, long, TimeUnit)}):
 * the session's TTL for a live session, so that it slides, and the tombstone
 * TTL for a delete (plus {@link #ENTRY_TTL_SLACK_MS}).
 */
public final class Processors {

  /**
   * Added to every entry TTL. Hazelcast keeps expiration times in whole
   * seconds, so an entry may expire up to a second before its TTL; with the
   * slack it never goes before the session expires. Whether a session is
   * expired is decided exactly by {@link Session#isExpired} on every read and
   * in every processor; the entry's own expiry only removes it (and reports
   * {@code expired}) up to about a second, plus Hazelcast's expiration task
   * period, later.
   */
  static final long ENTRY_TTL_SLACK_MS = 1000;

  private Processors() {
  }

  /** A JSON value as text; {@link #decodeValue} reverses it. Any JSON value, null included. */
  static String encodeValue(Object value) {
    return new JsonArray().add(value).encode();
  }

  static Object decodeValue(String text) {
    return new JsonArray(text).getValue(0);
  }

  /** What all processors share. */
  abstract static class Base implements EntryProcessor<String, HazelcastJsonValue, Outcome>,
      IdentifiedDataSerializable, HazelcastInstanceAware {

    /**
     * The member that runs this processor, injected on the primary only
     * (Hazelcast initialises an entry operation's processor, not a backup's).
     */
    private transient HazelcastInstance member;

    @Override
    public void setHazelcastInstance(HazelcastInstance hazelcastInstance) {
      this.member = hazelcastInstance;
    }

    /**
     * The fencing check of a change, run on the partition's primary before
     * it applies anything: null when the member holds its ownership lease
     * (or keeps none), else a {@code not_owner} outcome, and nothing changes.
     * A member that was paused past the lease refuses here, since the cluster
     * may have dropped it and promoted a backup in its place (docs/cluster.md, "Fencing").
     */
    final Outcome fenced(Map.Entry<String, HazelcastJsonValue> e) {
      if (member == null || !(member.getUserContext().get(LeaseKeeper.USER_CONTEXT_KEY) instanceof OwnershipLease lease)
          || lease.held()) {
        return null;
      }
      com.hazelcast.cluster.Member owner = member.getPartitionService().getPartition(e.getKey()).getOwner();
      if (owner != null && !owner.localMember()) {
        return null; // a backup replica: it mirrors its primary, which checked
      }
      return Outcome.failed(new SnakepitException(ErrorCode.NOT_OWNER, "Node refused to change session '"
          + e.getKey() + "': it was paused past its ownership lease (" + lease + ") and the cluster has not yet "
          + "confirmed it as a member; nothing was changed.", null,
          new JsonObject().put("session_id", e.getKey())));
    }

    @Override
    public int getFactoryId() {
      return SessionDataSerializableFactory.FACTORY_ID;
    }

    static Session current(Map.Entry<String, HazelcastJsonValue> e) {
      return StoredSession.decode(e.getValue());
    }

    static void store(Map.Entry<String, HazelcastJsonValue> e, Session s, long ttlMs) {
      ((ExtendedMapEntry<String, HazelcastJsonValue>) e).setValue(StoredSession.encode(s),
          ttlMs + ENTRY_TTL_SLACK_MS, TimeUnit.MILLISECONDS);
    }
  }

  // ---- create ------------------------------------------------------------------------------------

  /** Stores a new session unless a live one is there; over a tombstone or an expired copy it re-creates. */
  public static final class Create extends Base {
    private String fresh;

    public Create() {
    }

    Create(Session fresh) {
      this.fresh = StoredSession.json(fresh);
    }

    @Override
    public Outcome process(Map.Entry<String, HazelcastJsonValue> e) {
      Outcome refused = fenced(e);
      if (refused != null) {
        return refused;
      }
      Session s = current(e);
      Session f = StoredSession.decodeJson(fresh);
      if (StoredSession.live(s, f.createdAt())) {
        return Outcome.of(Outcome.EXISTED, s);
      }
      store(e, f, f.ttlMs());
      return Outcome.of(Outcome.CREATED, f);
    }

    @Override
    public int getClassId() {
      return SessionDataSerializableFactory.CREATE;
    }

    @Override
    public void writeData(ObjectDataOutput out) throws IOException {
      out.writeString(fresh);
    }

    @Override
    public void readData(ObjectDataInput in) throws IOException {
      fresh = in.readString();
    }
  }

  // ---- put / delete a variable, put a program or metadata, record served-by ----------------------

  /** One change to one entry of a session, checked against the limits at the owner. */
  public static final class Change extends Base {
    static final byte VARIABLE = 0;
    static final byte PROGRAM = 1;
    static final byte METADATA = 2;
    static final byte SERVED_BY = 3;
    /** Moves a counter: {@code value} is the amount, in decimal. */
    static final byte COUNTER = 4;

    private byte kind;
    private String name;
    private String value;
    private boolean delete;
    private long hlc;
    private String node;
    private long now;
    private SessionLimits limits;

    public Change() {
    }

    /**
     * @param kind   {@link #VARIABLE}, {@link #PROGRAM}, {@link #METADATA}, {@link #SERVED_BY} or {@link #COUNTER}
     * @param name   the variable name, program id or metadata key; for SERVED_BY the node
     * @param value  the value as {@link #encodeValue} text; for SERVED_BY the worker id itself; for COUNTER the
     *               amount in decimal
     * @param delete for VARIABLE: delete it (a stamped tombstone) instead of setting it
     */
    Change(byte kind, String name, String value, boolean delete, long hlc, String node, long now,
           SessionLimits limits) {
      this.kind = kind;
      this.name = name;
      this.value = value;
      this.delete = delete;
      this.hlc = hlc;
      this.node = node;
      this.now = now;
      this.limits = limits;
    }

    @Override
    public Outcome process(Map.Entry<String, HazelcastJsonValue> e) {
      Outcome refused = fenced(e);
      if (refused != null) {
        return refused;
      }
      Session s = current(e);
      if (!StoredSession.live(s, now)) {
        return Outcome.of(Outcome.NOT_FOUND, null);
      }
      Session next;
      try {
        next = changed(s);
      } catch (SnakepitException ex) {
        return Outcome.failed(ex);
      }
      if (next == s) {
        return Outcome.of(Outcome.UNCHANGED, s);
      }
      if (!delete && kind != SERVED_BY) {
        try {
          limits.check(next);
        } catch (SnakepitException ex) {
          return Outcome.failed(ex);
        }
      }
      next = next.touched(now);
      store(e, next, next.ttlMs());
      return Outcome.of(Outcome.OK, next);
    }

    /** The session after this change, or {@code s} itself when nothing changes. */
    private Session changed(Session s) {
      Session next;
      switch (kind) {
        case VARIABLE -> {
          s.checkNotCounter(name);
          if (delete) {
            if (!s.hasVariable(name)) {
              return s;
            }
            next = s.withVariable(name, Stamped.tombstone(hlc, node));
          } else {
            next = s.withVariable(name, Stamped.of(decodeValue(value), hlc, node));
          }
        }
        case COUNTER -> next = s.withIncrement(name, Long.parseLong(value), hlc, node);
        case PROGRAM -> next = s.withProgram(name, Stamped.of(decodeValue(value), hlc, node));
        case METADATA -> next = s.withMetadata(name, Stamped.of(decodeValue(value), hlc, node));
        case SERVED_BY -> next = s.afterServing(name, value, hlc, node);
        default -> throw new IllegalStateException("unknown change kind " + kind);
      }
      return next;
    }

    @Override
    public int getClassId() {
      return SessionDataSerializableFactory.CHANGE;
    }

    @Override
    public void writeData(ObjectDataOutput out) throws IOException {
      out.writeByte(kind);
      out.writeString(name);
      out.writeString(value);
      out.writeBoolean(delete);
      out.writeLong(hlc);
      out.writeString(node);
      out.writeLong(now);
      StoredSession.writeLimits(out, limits);
    }

    @Override
    public void readData(ObjectDataInput in) throws IOException {
      kind = in.readByte();
      name = in.readString();
      value = in.readString();
      delete = in.readBoolean();
      hlc = in.readLong();
      node = in.readString();
      now = in.readLong();
      limits = StoredSession.readLimits(in);
    }
  }

  // ---- touch ---------------------------------------------------------------------------------------

  /** Records an access: slides accessedAt and the entry's TTL. Not a content change: the version stays. */
  public static final class Touch extends Base {
    private long now;

    public Touch() {
    }

    Touch(long now) {
      this.now = now;
    }

    @Override
    public Outcome process(Map.Entry<String, HazelcastJsonValue> e) {
      Outcome refused = fenced(e);
      if (refused != null) {
        return refused;
      }
      Session s = current(e);
      if (StoredSession.live(s, now) && now > s.accessedAt()) {
        Session t = s.touched(now);
        store(e, t, t.ttlMs());
      }
      return null;
    }

    @Override
    public int getClassId() {
      return SessionDataSerializableFactory.TOUCH;
    }

    @Override
    public void writeData(ObjectDataOutput out) throws IOException {
      out.writeLong(now);
    }

    @Override
    public void readData(ObjectDataInput in) throws IOException {
      now = in.readLong();
    }
  }

  // ---- delete ------------------------------------------------------------------------------------

  /**
   * Replaces the session with a tombstone, kept in the map for the tombstone
   * TTL; leaves one where there was no session at all, too (see process).
   */
  public static final class Delete extends Base {
    private long hlc;
    private long now;
    private long tombstoneTtlMs;

    public Delete() {
    }

    Delete(long hlc, long now, long tombstoneTtlMs) {
      this.hlc = hlc;
      this.now = now;
      this.tombstoneTtlMs = tombstoneTtlMs;
    }

    @Override
    public Outcome process(Map.Entry<String, HazelcastJsonValue> e) {
      Outcome refused = fenced(e);
      if (refused != null) {
        return refused;
      }
      Session s = current(e);
      if (s == null) {
        // Remembered even though there was nothing to delete: on one side of a partition the session may be
        // missing only because it was created on the other side, and a tombstone is what makes this
        // acknowledged delete win when the sides merge (tests/chaos.sh --seed 3 found a session back after its
        // acknowledged delete). It expires with the tombstone TTL, as every tombstone does.
        Session tomb = Session.create(e.getKey(), now, 0).deleted(hlc);
        store(e, tomb, tombstoneTtlMs);
        return Outcome.of(Outcome.NOT_FOUND, tomb);
      }
      if (s.isDeleted()) {
        return Outcome.of(Outcome.NOT_FOUND, s);
      }
      Session tomb = s.deleted(hlc);
      store(e, tomb, tombstoneTtlMs);
      return Outcome.of(s.isExpired(now) ? Outcome.EXPIRED : Outcome.DELETED, tomb);
    }

    @Override
    public int getClassId() {
      return SessionDataSerializableFactory.DELETE;
    }

    @Override
    public void writeData(ObjectDataOutput out) throws IOException {
      out.writeLong(hlc);
      out.writeLong(now);
      out.writeLong(tombstoneTtlMs);
    }

    @Override
    public void readData(ObjectDataInput in) throws IOException {
      hlc = in.readLong();
      now = in.readLong();
      tombstoneTtlMs = in.readLong();
    }
  }

  // ---- merge ---------------------------------------------------------------------------------------

  /**
   * Merges an incoming copy with the stored one (live, tombstone or none) by
   * {@link Session#merge}. When the result's content differs from the stored
   * copy, its version is raised past the stored one, so that a concurrent
   * optimistic update (compare-and-set on the version) cannot overwrite it.
   */
  public static final class Merge extends Base {
    private String incoming;
    private long now;
    private long tombstoneTtlMs;

    public Merge() {
    }

    Merge(Session incoming, long now, long tombstoneTtlMs) {
      this.incoming = StoredSession.json(incoming);
      this.now = now;
      this.tombstoneTtlMs = tombstoneTtlMs;
    }

    @Override
    public Outcome process(Map.Entry<String, HazelcastJsonValue> e) {
      Outcome refused = fenced(e);
      if (refused != null) {
        return refused;
      }
      Session s = current(e);
      if (s != null && !s.isDeleted() && s.isExpired(now)) {
        s = null; // an expired copy is a missing one
      }
      Session in = StoredSession.decodeJson(incoming);
      Session merged = Session.merge(s, in);
      if (s != null && merged.equals(s)) {
        return Outcome.of(Outcome.UNCHANGED, s);
      }
      if (s != null && !StoredSession.sameContent(s, merged)) {
        merged = StoredSession.withVersion(merged, Math.max(merged.version(), s.version() + 1));
      }
      boolean wasLive = s != null && !s.isDeleted();
      if (merged.isDeleted()) {
        store(e, merged, tombstoneTtlMs);
        return Outcome.of(wasLive ? Outcome.DELETED : Outcome.OK, merged);
      }
      long remaining = merged.expiresAt() - now;
      if (remaining <= 0) {
        // Only possible when nothing live was stored: an expired copy is not brought back.
        return Outcome.of(Outcome.NOT_FOUND, merged);
      }
      store(e, merged, remaining);
      return Outcome.of(wasLive ? Outcome.OK : Outcome.CREATED, merged);
    }

    @Override
    public int getClassId() {
      return SessionDataSerializableFactory.MERGE;
    }

    @Override
    public void writeData(ObjectDataOutput out) throws IOException {
      out.writeString(incoming);
      out.writeLong(now);
      out.writeLong(tombstoneTtlMs);
    }

    @Override
    public void readData(ObjectDataInput in) throws IOException {
      incoming = in.readString();
      now = in.readLong();
      tombstoneTtlMs = in.readLong();
    }
  }

  // ---- compare-and-set -----------------------------------------------------------------------------

  /** Stores {@code next} if the stored live session still has {@code expectedVersion}: the optimistic update. */
  public static final class CompareAndSet extends Base {
    private long expectedVersion;
    private String next;
    private long now;

    public CompareAndSet() {
    }

    CompareAndSet(long expectedVersion, Session next, long now) {
      this.expectedVersion = expectedVersion;
      this.next = StoredSession.json(next);
      this.now = now;
    }

    @Override
    public Outcome process(Map.Entry<String, HazelcastJsonValue> e) {
      Outcome refused = fenced(e);
      if (refused != null) {
        return refused;
      }
      Session s = current(e);
      if (!StoredSession.live(s, now)) {
        return Outcome.of(Outcome.NOT_FOUND, null);
      }
      if (s.version() != expectedVersion) {
        return Outcome.of(Outcome.CONFLICT, s);
      }
      Session n = StoredSession.decodeJson(next);
      store(e, n, n.ttlMs());
      return Outcome.of(Outcome.OK, n);
    }

    @Override
    public int getClassId() {
      return SessionDataSerializableFactory.COMPARE_AND_SET;
    }

    @Override
    public void writeData(ObjectDataOutput out) throws IOException {
      out.writeLong(expectedVersion);
      out.writeString(next);
      out.writeLong(now);
    }

    @Override
    public void readData(ObjectDataInput in) throws IOException {
      expectedVersion = in.readLong();
      next = in.readString();
      now = in.readLong();
    }
  }

  // ---- read one variable or program ----------------------------------------------------------------

  /**
   * Reads one variable or program at the owner and ships only it back (not the
   * whole session). Read-only: no backup, no lock held beyond the partition thread.
   */
  public static final class Read extends Base implements ReadOnly {
    private byte kind;
    private String name;
    private long now;

    public Read() {
    }

    Read(byte kind, String name, long now) {
      this.kind = kind;
      this.name = name;
      this.now = now;
    }

    @Override
    public Outcome process(Map.Entry<String, HazelcastJsonValue> e) {
      Session s = current(e);
      if (!StoredSession.live(s, now)) {
        return Outcome.of(Outcome.NOT_FOUND, null);
      }
      Stamped v = (kind == Change.PROGRAM ? s.programs() : s.variables()).get(name);
      if (v == null || v.deleted()) {
        return Outcome.read(Outcome.ABSENT, null, s.accessedAt());
      }
      return Outcome.read(Outcome.OK, encodeValue(v.value()), s.accessedAt());
    }

    @Override
    public EntryProcessor<String, HazelcastJsonValue, Outcome> getBackupProcessor() {
      return null;
    }

    @Override
    public int getClassId() {
      return SessionDataSerializableFactory.READ;
    }

    @Override
    public void writeData(ObjectDataOutput out) throws IOException {
      out.writeByte(kind);
      out.writeString(name);
      out.writeLong(now);
    }

    @Override
    public void readData(ObjectDataInput in) throws IOException {
      kind = in.readByte();
      name = in.readString();
      now = in.readLong();
    }
  }
}
