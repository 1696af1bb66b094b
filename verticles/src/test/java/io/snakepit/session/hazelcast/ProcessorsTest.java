package io.snakepit.session.hazelcast;

import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.core.HazelcastJsonValue;
import com.hazelcast.internal.serialization.Data;
import com.hazelcast.internal.serialization.InternalSerializationService;
import com.hazelcast.internal.serialization.impl.DefaultSerializationServiceBuilder;
import com.hazelcast.map.ExtendedMapEntry;
import io.snakepit.contract.ErrorCode;
import io.snakepit.session.Session;
import io.snakepit.session.SessionLimits;
import io.snakepit.session.Stamped;
import io.vertx.core.json.JsonObject;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * Each processor survives serialization (IdentifiedDataSerializable through
 * the registered factory) and behaves the same after it; and each behaves as
 * documented on a test entry, without a cluster.
 */
class ProcessorsTest {

  static final InternalSerializationService SS = new DefaultSerializationServiceBuilder()
      .addDataSerializableFactory(SessionDataSerializableFactory.FACTORY_ID, new SessionDataSerializableFactory())
      .build();

  static final SessionLimits LIMITS = SessionLimits.fromJson(new JsonObject().put("max-variables", 2),
      "sessions.limits");

  /** A map entry that remembers its value and TTL. */
  static final class TestEntry implements ExtendedMapEntry<String, HazelcastJsonValue> {
    final String key;
    HazelcastJsonValue value;
    long ttlMs = -1;
    int writes;

    TestEntry(String key, Session s) {
      this.key = key;
      this.value = s == null ? null : StoredSession.encode(s);
    }

    @Override
    public String getKey() {
      return key;
    }

    @Override
    public HazelcastJsonValue getValue() {
      return value;
    }

    @Override
    public HazelcastJsonValue setValue(HazelcastJsonValue v) {
      return setValue(v, -1, TimeUnit.MILLISECONDS);
    }

    @Override
    public HazelcastJsonValue setValue(HazelcastJsonValue v, long ttl, TimeUnit unit) {
      HazelcastJsonValue old = value;
      value = v;
      ttlMs = unit.toMillis(ttl);
      writes++;
      return old;
    }

    @Override
    public HazelcastJsonValue setValueWithoutChangingExpiryTime(HazelcastJsonValue v) {
      throw new UnsupportedOperationException();
    }

    Session session() {
      return StoredSession.decode(value);
    }
  }

  @SuppressWarnings("unchecked")
  static <T> T roundTrip(T o) {
    Data d = SS.toData(o);
    T back = SS.toObject(d);
    assertThat((Object) back).isNotSameAs(o).hasSameClassAs(o);
    assertThat((Object) SS.toData(back)).isEqualTo(d);
    return back;
  }

  static final long NOW = 1_800_000_000_000L;

  static Session live() {
    return Session.create("s1", NOW - 10, 60_000).withVariable("a", Stamped.of(1, 5, "n1"));
  }

  /** Runs the processor and its serialized copy on equal entries: same outcome, same stored value. */
  static Outcome both(Processors.Base p, Supplier<TestEntry> entry, TestEntry[] out) {
    TestEntry e1 = entry.get();
    TestEntry e2 = entry.get();
    Outcome o1 = p.process(e1);
    Outcome o2 = roundTrip(p).process(e2);
    assertThat(e2.value).isEqualTo(e1.value);
    assertThat(e2.ttlMs).isEqualTo(e1.ttlMs);
    if (o1 == null) {
      assertThat(o2).isNull();
    } else {
      Outcome back = roundTrip(o1);
      assertThat(back.toString()).isEqualTo(o1.toString()).isEqualTo(o2.toString());
      assertThat(back.accessedAt()).isEqualTo(o1.accessedAt());
    }
    out[0] = e1;
    return o1;
  }

  @Test
  void create() {
    TestEntry[] e = new TestEntry[1];
    Session fresh = Session.create("s1", NOW, 30_000);
    Outcome o = both(new Processors.Create(fresh), () -> new TestEntry("s1", null), e);
    assertThat(o.status()).isEqualTo(Outcome.CREATED);
    assertThat(e[0].session()).isEqualTo(fresh);
    assertThat(e[0].ttlMs).isEqualTo(30_000 + Processors.ENTRY_TTL_SLACK_MS);
    assertThat(both(new Processors.Create(fresh), () -> new TestEntry("s1", live()), e).status())
        .isEqualTo(Outcome.EXISTED);
    assertThat(e[0].writes).isZero();
    assertThat(both(new Processors.Create(fresh), () -> new TestEntry("s1", live().deleted(9)), e).status())
        .isEqualTo(Outcome.CREATED);
  }

  @Test
  void change() {
    TestEntry[] e = new TestEntry[1];
    Outcome o = both(new Processors.Change(Processors.Change.VARIABLE, "b",
        Processors.encodeValue(new JsonObject().put("x", 1)), false, 77, "n2", NOW, LIMITS),
        () -> new TestEntry("s1", live()), e);
    assertThat(o.status()).isEqualTo(Outcome.OK);
    Session s = e[0].session();
    assertThat(s.variable("b")).isEqualTo(new JsonObject().put("x", 1));
    assertThat(s.variables().get("b").hlc()).isEqualTo(77);
    assertThat(s.version()).isEqualTo(live().version() + 1);
    assertThat(s.accessedAt()).isEqualTo(NOW);
    // the third variable passes max-variables: error, no write
    Outcome over = both(new Processors.Change(Processors.Change.VARIABLE, "c", "[3]", false, 78, "n2", NOW, LIMITS),
        () -> new TestEntry("s1", s), e);
    assertThat(over.status()).isEqualTo(Outcome.ERROR);
    assertThat(over.exception().errorCode()).isEqualTo(ErrorCode.LIMIT_EXCEEDED);
    assertThat(e[0].writes).isZero();
    // delete: a stamped tombstone; deleting again changes nothing
    assertThat(both(new Processors.Change(Processors.Change.VARIABLE, "a", null, true, 79, "n2", NOW, LIMITS),
        () -> new TestEntry("s1", live()), e).status()).isEqualTo(Outcome.OK);
    assertThat(e[0].session().variables().get("a").deleted()).isTrue();
    assertThat(both(new Processors.Change(Processors.Change.VARIABLE, "zz", null, true, 79, "n2", NOW, LIMITS),
        () -> new TestEntry("s1", live()), e).status()).isEqualTo(Outcome.UNCHANGED);
    // programs, metadata, served-by
    both(new Processors.Change(Processors.Change.PROGRAM, "p", "[{\"c\":1}]", false, 80, "n2", NOW, LIMITS),
        () -> new TestEntry("s1", live()), e);
    assertThat(e[0].session().programs().get("p").value()).isEqualTo(new JsonObject().put("c", 1));
    both(new Processors.Change(Processors.Change.METADATA, "m", "[\"v\"]", false, 81, "n2", NOW, LIMITS),
        () -> new TestEntry("s1", live()), e);
    assertThat(e[0].session().metadata().get("m").value()).isEqualTo("v");
    both(new Processors.Change(Processors.Change.SERVED_BY, "node-9", "w-1", false, 0, "n2", NOW, LIMITS),
        () -> new TestEntry("s1", live()), e);
    assertThat(e[0].session().lastWorker()).isEqualTo("w-1");
    // missing, tombstone and expired sessions are not found
    for (Session gone : new Session[] {null, live().deleted(3), Session.create("s1", NOW - 100_000, 1000)}) {
      assertThat(both(new Processors.Change(Processors.Change.METADATA, "m", "[1]", false, 81, "n2", NOW, LIMITS),
          () -> new TestEntry("s1", gone), e).status()).isEqualTo(Outcome.NOT_FOUND);
    }
  }

  @Test
  void touchDeleteMergeCompareAndSetRead() {
    TestEntry[] e = new TestEntry[1];
    assertThat(both(new Processors.Touch(NOW), () -> new TestEntry("s1", live()), e)).isNull();
    assertThat(e[0].session().accessedAt()).isEqualTo(NOW);
    assertThat(e[0].session().version()).isEqualTo(live().version());

    Outcome d = both(new Processors.Delete(99, NOW, 5000), () -> new TestEntry("s1", live()), e);
    assertThat(d.status()).isEqualTo(Outcome.DELETED);
    assertThat(e[0].session().deletedHlc()).isEqualTo(99);
    assertThat(e[0].ttlMs).isEqualTo(5000 + Processors.ENTRY_TTL_SLACK_MS);
    assertThat(new JsonObject(e[0].value.toString()).getBoolean("deleted")).isTrue();

    // A delete where this side holds no copy still leaves a tombstone, which wins when the sides merge.
    Outcome missing = both(new Processors.Delete(99, NOW, 5000), () -> new TestEntry("s1", null), e);
    assertThat(missing.status()).isEqualTo(Outcome.NOT_FOUND);
    assertThat(e[0].session().isDeleted()).isTrue();
    assertThat(e[0].session().deletedHlc()).isEqualTo(99);
    assertThat(e[0].ttlMs).isEqualTo(5000 + Processors.ENTRY_TTL_SLACK_MS);
    assertThat(HlcMergePolicy.merge(live(), e[0].session()).isDeleted()).isTrue();
    Outcome again = both(new Processors.Delete(120, NOW, 5000), () -> new TestEntry("s1", live().deleted(99)), e);
    assertThat(again.status()).isEqualTo(Outcome.NOT_FOUND);
    assertThat(e[0].writes).as("a second delete leaves the first tombstone as it is").isZero();

    Session incoming = live().withVariable("b", Stamped.of(2, 10, "n3"));
    Outcome m = both(new Processors.Merge(incoming, NOW, 5000), () -> new TestEntry("s1", live()), e);
    assertThat(m.status()).isEqualTo(Outcome.OK);
    assertThat(e[0].session().variable("b")).isEqualTo(2);
    assertThat(e[0].session().version()).isGreaterThan(live().version());
    assertThat(both(new Processors.Merge(incoming, NOW, 5000), () -> new TestEntry("s1", null), e).status())
        .isEqualTo(Outcome.CREATED);
    assertThat(both(new Processors.Merge(incoming, NOW, 5000), () -> new TestEntry("s1", live().deleted(3)), e)
        .status()).isEqualTo(Outcome.UNCHANGED);

    Session next = live().withTtl(90_000);
    assertThat(both(new Processors.CompareAndSet(live().version(), next, NOW), () -> new TestEntry("s1", live()), e)
        .status()).isEqualTo(Outcome.OK);
    assertThat(e[0].ttlMs).isEqualTo(90_000 + Processors.ENTRY_TTL_SLACK_MS);
    assertThat(both(new Processors.CompareAndSet(live().version() - 1, next, NOW),
        () -> new TestEntry("s1", live()), e).status()).isEqualTo(Outcome.CONFLICT);
    assertThat(e[0].writes).isZero();

    Outcome r = both(new Processors.Read(Processors.Change.VARIABLE, "a", NOW), () -> new TestEntry("s1", live()), e);
    assertThat(r.status()).isEqualTo(Outcome.OK);
    assertThat(Processors.decodeValue(r.value())).isEqualTo(1);
    assertThat(r.accessedAt()).isEqualTo(live().accessedAt());
    assertThat(both(new Processors.Read(Processors.Change.PROGRAM, "a", NOW), () -> new TestEntry("s1", live()), e)
        .status()).isEqualTo(Outcome.ABSENT);
    assertThat(new Processors.Read().getBackupProcessor()).isNull();
  }

  @Test
  void comparatorAndPolicySerialize() {
    assertThat(roundTrip(new KeyComparator())).isInstanceOf(KeyComparator.class);
    assertThat(roundTrip(new HlcMergePolicy())).isInstanceOf(HlcMergePolicy.class);
    assertThat(new SessionDataSerializableFactory().create(12345)).isNull();
  }
}
