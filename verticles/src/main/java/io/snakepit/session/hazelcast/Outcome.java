package io.snakepit.session.hazelcast;

import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import com.hazelcast.nio.serialization.IdentifiedDataSerializable;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.json.JsonObject;
import java.io.IOException;

/**
 * What an entry processor reports back to the caller: a status, the session
 * as it is now (storage JSON), and for reads or failures a value or an error.
 */
public final class Outcome implements IdentifiedDataSerializable {

  /** The change was applied (or, for a read, the session was found). */
  public static final byte OK = 0;
  /** Nothing needed changing; {@link #session()} is the current copy. */
  public static final byte UNCHANGED = 1;
  /** create: this call created the session; merge: the merge brought a live session where there was none. */
  public static final byte CREATED = 2;
  /** create: a live session was there already. */
  public static final byte EXISTED = 3;
  /** No live session. */
  public static final byte NOT_FOUND = 4;
  /** A limit (or another check) failed; nothing changed; see {@link #error()}. */
  public static final byte ERROR = 5;
  /** compare-and-set: the version moved on; {@link #session()} is the current copy. */
  public static final byte CONFLICT = 6;
  /** delete or merge: a live session became a tombstone. */
  public static final byte DELETED = 7;
  /** delete: the session had expired but was still there; it is a tombstone now. */
  public static final byte EXPIRED = 8;
  /** read: the session is there but has no such variable or program. */
  public static final byte ABSENT = 9;

  private byte status;
  private String session;
  private String value;
  private String error;
  private long accessedAt;

  public Outcome() {
  }

  /** A read's answer: the value (JSON text, null when {@code status} is ABSENT) and the session's last access. */
  static Outcome read(byte status, String value, long accessedAt) {
    Outcome o = new Outcome(status, null, value, null);
    o.accessedAt = accessedAt;
    return o;
  }

  /** For reads: the session's recorded last access. */
  public long accessedAt() {
    return accessedAt;
  }

  Outcome(byte status, String session, String value, String error) {
    this.status = status;
    this.session = session;
    this.value = value;
    this.error = error;
  }

  static Outcome of(byte status, io.snakepit.session.Session s) {
    return new Outcome(status, StoredSession.json(s), null, null);
  }

  static Outcome failed(SnakepitException e) {
    return new Outcome(ERROR, null, null, e.toJson().encode());
  }

  public byte status() {
    return status;
  }

  /** The session's storage JSON, or null. */
  public String session() {
    return session;
  }

  /** A read value as JSON text, or null. */
  public String value() {
    return value;
  }

  /** The failure as {@link SnakepitException#toJson()} text, or null. */
  public String error() {
    return error;
  }

  SnakepitException exception() {
    return SnakepitException.fromJson(new JsonObject(error));
  }

  @Override
  public int getFactoryId() {
    return SessionDataSerializableFactory.FACTORY_ID;
  }

  @Override
  public int getClassId() {
    return SessionDataSerializableFactory.OUTCOME;
  }

  @Override
  public void writeData(ObjectDataOutput out) throws IOException {
    out.writeByte(status);
    out.writeString(session);
    out.writeString(value);
    out.writeString(error);
    out.writeLong(accessedAt);
  }

  @Override
  public void readData(ObjectDataInput in) throws IOException {
    status = in.readByte();
    session = in.readString();
    value = in.readString();
    error = in.readString();
    accessedAt = in.readLong();
  }

  @Override
  public String toString() {
    return "Outcome[" + status + ", " + session + ", " + value + ", " + error + "]";
  }
}
