package io.snakepit.session.hazelcast;

import static io.snakepit.session.hazelcast.TestCluster.await;
import static io.snakepit.session.hazelcast.TestCluster.get;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastJsonValue;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.snakepit.session.Session;
import io.snakepit.session.SessionLimits;
import io.snakepit.session.SessionListener;
import io.snakepit.session.SessionPage;
import io.snakepit.session.SessionStore;
import io.snakepit.session.Stamped;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The adapter's behaviour against the SessionStore contract, on a cluster the
 * subclass sets up. Two stores, {@link #a} and {@link #b}, on different
 * members when there are several: what one writes the other must see.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class StoreContractTest {

  Vertx vertx;
  TestCluster cluster;
  SessionStore a;
  SessionStore b;
  final Recorder events = new Recorder();

  abstract int members();

  @BeforeAll
  void setUp() {
    vertx = Vertx.vertx();
    cluster = new TestCluster();
    for (int i = 0; i < members(); i++) {
      var c = cluster.config(1);
      c.setProperty("hazelcast.internal.map.expiration.task.period.seconds", "1");
      cluster.start(c);
    }
    cluster.awaitSize(members());
    // One store per member, all reporting to one recorder: expiry is reported by the owner's store.
    for (HazelcastInstance m : cluster.members) {
      cluster.store(vertx, m, SessionLimits.defaults()).setListener(events);
    }
    a = cluster.stores.get(0);
    b = cluster.stores.get(cluster.stores.size() - 1);
  }

  @AfterAll
  void tearDown() {
    cluster.close();
    get(vertx.close());
  }

  static String id() {
    return "t-" + UUID.randomUUID();
  }

  static ErrorCode code(Throwable t) {
    return ((SnakepitException) t).errorCode();
  }

  static final class Recorder implements SessionListener {
    final Set<String> created = ConcurrentHashMap.newKeySet();
    final Set<String> deleted = ConcurrentHashMap.newKeySet();
    final Set<String> expired = ConcurrentHashMap.newKeySet();
    final Map<String, Long> expiredAt = new ConcurrentHashMap<>();

    @Override
    public void created(Session session) {
      created.add(session.id());
    }

    @Override
    public void deleted(String id) {
      deleted.add(id);
    }

    @Override
    public void expired(String id) {
      expiredAt.putIfAbsent(id, System.currentTimeMillis());
      expired.add(id);
    }
  }

  /** A store on member {@code i} with its own limits and map. */
  SessionStore storeWith(SessionLimits limits, String map) {
    SessionStore s = get(HazelcastSessionStoreFactory.create(vertx, TestCluster.settings("node-x", limits),
        new JsonObject().put("map-name", map), cluster.members.get(0)));
    cluster.stores.add(s);
    return s;
  }

  static SessionLimits limits(JsonObject json) {
    return SessionLimits.fromJson(json, "sessions.limits");
  }

  // ---- create / get ------------------------------------------------------------------------------

  /**
   * A store call hands Hazelcast's result to Vert.x on the thread that
   * completes it: through a plain {@code whenComplete}, Hazelcast would run
   * the callback on its default async executor, which starts a new thread per
   * callback where the common pool has one thread (two cores or fewer).
   */
  @Test
  void operationsStartNoThreadPerCall() {
    String id = id();
    get(a.create(id, 0, null));
    get(a.putVariable(id, "x", 0));
    get(b.get(id));
    java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
    long started = threads.getTotalStartedThreadCount();
    for (int i = 0; i < 100; i++) {
      get((i % 2 == 0 ? a : b).get(id));
      get((i % 2 == 0 ? a : b).putVariable(id, "x", i));
      get((i % 2 == 0 ? a : b).getVariable(id, "x"));
    }
    assertThat(threads.getTotalStartedThreadCount() - started).isLessThan(30);
  }

  @Test
  void createIsIdempotentAndConcurrentCreatesAgree() {
    String id = id();
    List<Future<SessionStore.Created>> all = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      all.add((i % 2 == 0 ? a : b).create(id, 0, new JsonObject().put("k", i)));
    }
    get(Future.all(all));
    long createdCount = all.stream().filter(f -> f.result().created()).count();
    assertThat(createdCount).isEqualTo(1);
    assertThat(all.stream().map(f -> f.result().session().createdAt()).distinct()).hasSize(1);
    assertThat(events.created).contains(id);
    SessionStore.Created again = get(b.create(id, 0, null));
    assertThat(again.created()).isFalse();
    assertThat(again.session().version()).isEqualTo(1);
  }

  @Test
  void missingAndBadIds() {
    assertThatThrownBy(() -> get(a.get(id()))).satisfies(t -> assertThat(code(t)).isEqualTo(ErrorCode.SESSION_NOT_FOUND));
    assertThatThrownBy(() -> get(a.create("bad id!", 0, null)))
        .satisfies(t -> assertThat(code(t)).isEqualTo(ErrorCode.BAD_REQUEST));
    assertThatThrownBy(() -> get(a.create(id(), 365L * 86_400_000, null)))
        .satisfies(t -> assertThat(code(t)).isEqualTo(ErrorCode.BAD_REQUEST));
    assertThat(get(a.exists(id()))).isFalse();
    assertThatThrownBy(() -> get(a.putVariable(id(), "x", 1)))
        .satisfies(t -> assertThat(code(t)).isEqualTo(ErrorCode.SESSION_NOT_FOUND));
    SessionStore.Created generated = get(a.create(null, 0, null));
    assertThat(generated.created()).isTrue();
    assertThat(get(b.exists(generated.session().id()))).isTrue();
  }

  @Test
  void variablesProgramsMetadataAcrossMembers() {
    String id = id();
    get(a.create(id, 0, new JsonObject().put("owner", "me")));
    get(a.putVariable(id, "s", "text"));
    get(a.putVariable(id, "n", 42));
    get(a.putVariable(id, "o", new JsonObject().put("x", new JsonArray().add(1).add("two"))));
    Session s = get(a.putVariable(id, "nil", null));
    assertThat(s.version()).isEqualTo(5);
    assertThat(get(b.getVariable(id, "s"))).isEqualTo("text");
    assertThat(((Number) get(b.getVariable(id, "n"))).intValue()).isEqualTo(42);
    assertThat(get(b.getVariable(id, "o"))).isEqualTo(new JsonObject().put("x", new JsonArray().add(1).add("two")));
    assertThat(get(b.getVariable(id, "nil"))).isNull();
    assertThatThrownBy(() -> get(b.getVariable(id, "none")))
        .satisfies(t -> assertThat(code(t)).isEqualTo(ErrorCode.NOT_FOUND_IN_SESSION));

    Session d = get(b.deleteVariable(id, "s"));
    assertThat(d.version()).isEqualTo(6);
    assertThat(get(a.deleteVariable(id, "s")).version()).isEqualTo(6); // idempotent: no change
    assertThatThrownBy(() -> get(a.getVariable(id, "s")))
        .satisfies(t -> assertThat(code(t)).isEqualTo(ErrorCode.NOT_FOUND_IN_SESSION));

    JsonObject doc = new JsonObject().put("code", "print(1)");
    get(b.putProgram(id, "p1", doc));
    assertThat(get(a.getProgram(id, "p1"))).isEqualTo(doc);
    assertThatThrownBy(() -> get(a.getProgram(id, "p2")))
        .satisfies(t -> assertThat(code(t)).isEqualTo(ErrorCode.NOT_FOUND_IN_SESSION));
    get(a.putMetadata(id, "team", "x"));
    Session served = get(a.recordServedBy(id, "node-1", "w-3"));
    assertThat(get(a.recordServedBy(id, "node-1", "w-3")).version()).isEqualTo(served.version());

    Session read = get(b.get(id));
    assertThat(read.metadata().get("owner").value()).isEqualTo("me");
    assertThat(read.metadata().get("team").value()).isEqualTo("x");
    assertThat(read.lastNode()).isEqualTo("node-1");
    assertThat(read.lastWorker()).isEqualTo("w-3");
    assertThat(read.programCount()).isEqualTo(1);
    assertThat(read.variableCount()).isEqualTo(3);
    assertThat(read.variables().get("n").node()).isEqualTo(a.settings().nodeId());
  }

  @Test
  void limitsAreCheckedAtTheOwnerAndChangeNothing() {
    SessionStore small = storeWith(limits(new JsonObject().put("max-variables", 2).put("max-value-bytes", 16)
        .put("max-programs", 1).put("max-metadata-bytes", 32)), "limits-" + UUID.randomUUID());
    String id = id();
    get(small.create(id, 0, null));
    get(small.putVariable(id, "a", 1));
    get(small.putVariable(id, "b", 2));
    assertThatThrownBy(() -> get(small.putVariable(id, "c", 3)))
        .satisfies(t -> assertThat(code(t)).isEqualTo(ErrorCode.LIMIT_EXCEEDED));
    assertThatThrownBy(() -> get(small.putVariable(id, "a", "a string longer than sixteen")))
        .satisfies(t -> assertThat(code(t)).isEqualTo(ErrorCode.LIMIT_EXCEEDED));
    get(small.putProgram(id, "p", new JsonObject()));
    assertThatThrownBy(() -> get(small.putProgram(id, "q", new JsonObject())))
        .satisfies(t -> assertThat(code(t)).isEqualTo(ErrorCode.LIMIT_EXCEEDED));
    assertThatThrownBy(() -> get(small.putMetadata(id, "m", "a value that is far too long for 32 bytes")))
        .satisfies(t -> assertThat(code(t)).isEqualTo(ErrorCode.LIMIT_EXCEEDED));
    Session s = get(small.get(id));
    assertThat(s.version()).isEqualTo(4);
    assertThat(s.variableCount()).isEqualTo(2);
    assertThat(s.variable("a")).isEqualTo(1);
    // Replacing a variable at the limit is fine.
    assertThat(get(small.putVariable(id, "b", 5)).variable("b")).isEqualTo(5);
  }

  @Test
  void maxSessions() {
    SessionStore small = storeWith(limits(new JsonObject().put("max-sessions", 3)), "max-" + UUID.randomUUID());
    List<String> ids = List.of(id(), id(), id());
    for (String id : ids) {
      get(small.create(id, 0, null));
    }
    assertThatThrownBy(() -> get(small.create(id(), 0, null)))
        .satisfies(t -> assertThat(code(t)).isEqualTo(ErrorCode.LIMIT_EXCEEDED));
    assertThat(get(small.create(ids.get(0), 0, null)).created()).isFalse(); // idempotent even when full
    get(small.delete(ids.get(1)));
    assertThat(get(small.create(id(), 0, null)).created()).isTrue();
  }

  // ---- update ------------------------------------------------------------------------------------

  @Test
  void concurrentUpdatesAreNeverLost() {
    String id = id();
    get(a.create(id, 0, null));
    List<Future<?>> all = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      SessionStore s = i % 2 == 0 ? a : b;
      all.add(s.update(id, cur -> {
        Object v = cur.variable("counter");
        int n = v == null ? 0 : ((Number) v).intValue();
        return cur.withVariable("counter", Stamped.of(n + 1, s.settings().clock().now(), s.settings().nodeId()));
      }).recover(t -> code(t) == ErrorCode.CONFLICT ? Future.succeededFuture() : Future.failedFuture(t)));
      all.add(s.putVariable(id, "v" + i, i));
    }
    get(Future.join(all));
    assertThat(all).allMatch(Future::succeeded);
    Session s = get(a.get(id));
    assertThat(s.variableCount()).isEqualTo(41);
    int counter = ((Number) s.variable("counter")).intValue();
    // Every update that did not report conflict took effect (with the default retries nearly all do),
    // and every change raised the version by exactly one.
    assertThat(counter).isBetween(1, 40);
    assertThat(s.version()).isEqualTo(1 + 40 + counter);
  }

  @Test
  void updateFailsWithConflictAfterTheRetries() {
    String id = id();
    get(a.create(id, 0, null));
    HazelcastSessionStore hs = (HazelcastSessionStore) a;
    int[] calls = {0};
    Throwable t = get(a.update(id, cur -> {
      calls[0]++;
      // Someone else changes the session between every read and its compare-and-set.
      hs.map().executeOnKey(id, new Processors.Change(Processors.Change.VARIABLE, "x",
          Processors.encodeValue(calls[0]), false, a.settings().clock().now(), "other", System.currentTimeMillis(),
          a.settings().limits()));
      return cur.withTtl(cur.ttlMs() + 1000);
    }).map(s -> (Throwable) null).otherwise(e -> e));
    assertThat(code(t)).isEqualTo(ErrorCode.CONFLICT);
    assertThat(calls[0]).isEqualTo(a.settings().limits().maxUpdateRetries() + 1);
    Session s = get(a.get(id));
    assertThat(s.ttlMs()).isEqualTo(a.settings().limits().defaultTtlMs());
  }

  @Test
  void updateThatThrowsChangesNothing() {
    String id = id();
    get(a.create(id, 0, null));
    assertThatThrownBy(() -> get(b.update(id, s -> {
      throw new SnakepitException(ErrorCode.BAD_REQUEST, "no");
    }))).satisfies(t -> assertThat(code(t)).isEqualTo(ErrorCode.BAD_REQUEST));
    assertThat(get(a.get(id)).version()).isEqualTo(1);
    assertThat(get(b.update(id, s -> s.withTtl(5000))).ttlMs()).isEqualTo(5000);
    assertThat(get(a.get(id)).version()).isEqualTo(2);
  }

  // ---- delete, tombstones, merge -----------------------------------------------------------------

  @Test
  void deleteLeavesATombstoneAndAllowsReCreate() {
    String id = id();
    get(a.create(id, 0, null));
    get(a.putVariable(id, "x", 1));
    assertThat(get(b.delete(id))).isTrue();
    assertThat(events.deleted).contains(id);
    assertThat(get(a.delete(id))).isFalse();
    assertThat(get(a.exists(id))).isFalse();
    assertThatThrownBy(() -> get(a.get(id))).satisfies(t -> assertThat(code(t)).isEqualTo(ErrorCode.SESSION_NOT_FOUND));
    HazelcastJsonValue raw = ((HazelcastSessionStore) a).map().get(id);
    assertThat(new JsonObject(raw.toString()).getBoolean("deleted")).isTrue();
    assertThat(new JsonObject(raw.toString()).containsKey("variables")).isFalse();
    // A stale copy cannot bring it back.
    Session stale = Session.create(id, System.currentTimeMillis(), 60_000)
        .withVariable("x", Stamped.of(2, a.settings().clock().now(), "elsewhere"));
    assertThat(get(a.merge(stale)).isDeleted()).isTrue();
    assertThat(get(a.exists(id))).isFalse();
    // A new create over the tombstone is a new session.
    SessionStore.Created again = get(b.create(id, 0, null));
    assertThat(again.created()).isTrue();
    assertThat(again.session().variableCount()).isZero();
  }

  @Test
  void mergeKeepsTheLastWriteOfEachEntry() {
    String id = id();
    get(a.create(id, 0, null));
    get(a.putVariable(id, "old", "local"));
    Session local = get(a.putVariable(id, "both", "local"));
    long later = a.settings().clock().now() + 1000;
    Session incoming = new Session(id, local.createdAt(), local.accessedAt(), local.ttlMs(), 2, null, null, null, null,
        Map.of("both", Stamped.of("remote", later, "n2"), "new", Stamped.of("remote", later, "n2"),
            "old", Stamped.of("stale", 1, "n2")), 0);
    Session merged = get(b.merge(incoming));
    assertThat(merged.variable("both")).isEqualTo("remote");
    assertThat(merged.variable("new")).isEqualTo("remote");
    assertThat(merged.variable("old")).isEqualTo("local");
    assertThat(merged.version()).isGreaterThan(local.version());
    assertThat(get(a.get(id)).variablesJson()).isEqualTo(merged.variablesJson());
    // merging the same copy again changes nothing
    assertThat(get(a.merge(incoming)).version()).isEqualTo(merged.version());
    // a later clock on this node has seen the incoming stamps
    assertThat(a.settings().clock().now()).isGreaterThan(later);

    String fresh = id();
    Session imported = Session.create(fresh, System.currentTimeMillis(), 60_000);
    assertThat(get(b.merge(imported)).id()).isEqualTo(fresh);
    assertThat(get(a.exists(fresh))).isTrue();
    assertThat(events.created).contains(fresh);
    Session tomb = get(a.get(fresh)).deleted(a.settings().clock().now());
    assertThat(get(a.merge(tomb)).isDeleted()).isTrue();
    assertThat(get(b.exists(fresh))).isFalse();
  }

  // ---- list, count, stats, health ----------------------------------------------------------------

  @Test
  void listPagesInIdOrderAndCountsSkipTombstones() {
    SessionStore own = storeWith(SessionLimits.defaults(), "list-" + UUID.randomUUID());
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 25; i++) {
      ids.add(String.format("s-%03d", i));
    }
    get(Future.all(ids.stream().map(i -> own.create(i, 0, null)).toList()));
    get(own.delete("s-005"));
    get(own.delete("s-024"));
    assertThat(get(own.count())).isEqualTo(23);
    List<String> seen = new ArrayList<>();
    String cursor = null;
    int pages = 0;
    do {
      SessionPage p = get(own.list(cursor, 10));
      p.sessions().forEach(s -> seen.add(s.id()));
      cursor = p.nextCursor();
      pages++;
    } while (cursor != null && pages < 10);
    List<String> expected = new ArrayList<>(ids);
    expected.remove("s-005");
    expected.remove("s-024");
    assertThat(seen).containsExactlyElementsOf(expected);
    assertThat(pages).isEqualTo(3);
    assertThat(get(own.list("s-022", 10)).sessions()).extracting(Session::id).containsExactly("s-023");
    JsonObject stats = get(own.stats());
    assertThat(stats.getLong("count")).isEqualTo(23);
    assertThat(stats.getString("adapter")).isEqualTo("hazelcast");
    assertThat(stats.getInteger("members")).isEqualTo(members());
    assertThat(stats.getInteger("backup-count")).isEqualTo(1);
    JsonObject health = get(own.health());
    assertThat(health.getString("status")).isEqualTo("UP");
  }

  // ---- TTL ---------------------------------------------------------------------------------------

  @Test
  void getTouchesCoarselyAndSlidesTheEntryTtl() {
    SessionStore eager = storeWith(limits(new JsonObject().put("touch-granularity-ms", 0)),
        TestCluster.MAP);
    String id = id();
    Session created = get(eager.create(id, 0, null)).session();
    HazelcastSessionStore hs = (HazelcastSessionStore) eager;
    long expiry = hs.map().getEntryView(id).getExpirationTime();
    await(() -> System.currentTimeMillis() > created.accessedAt() + 2, "the clock to move");
    Session read = get(eager.get(id));
    assertThat(read.accessedAt()).isGreaterThan(created.accessedAt());
    await(() -> StoredSession.decode(hs.map().get(id)).accessedAt() > created.accessedAt(), "the touch");
    // Hazelcast keeps expiration times in whole seconds: the touch cannot have moved it back.
    assertThat(hs.map().getEntryView(id).getExpirationTime()).isGreaterThanOrEqualTo(expiry)
        .isGreaterThan(System.currentTimeMillis());
    assertThat(get(eager.get(id)).version()).isEqualTo(1);
    // With the default granularity (1 s) an immediate read does not write.
    Session before = StoredSession.decode(hs.map().get(id));
    get(a.get(id));
    get(a.getVariable(id, "x").otherwiseEmpty());
    assertThat(StoredSession.decode(hs.map().get(id)).accessedAt()).isEqualTo(before.accessedAt());
  }

  @Test
  void expiredSessionsAreGoneAndReported() {
    String id = id();
    Session created = get(b.create(id, 1000, null)).session();
    assertThat(get(a.exists(id))).isTrue();
    get(b.putVariable(id, "x", 1));
    String deleted = id();
    get(b.create(deleted, 1000, null));
    get(b.delete(deleted));
    await(() -> !get(a.exists(id)), "expiry");
    assertThatThrownBy(() -> get(a.get(id))).satisfies(t -> assertThat(code(t)).isEqualTo(ErrorCode.SESSION_NOT_FOUND));
    assertThatThrownBy(() -> get(a.putVariable(id, "x", 2)))
        .satisfies(t -> assertThat(code(t)).isEqualTo(ErrorCode.SESSION_NOT_FOUND));
    await(() -> events.expired.contains(id), "the expired event");
    assertThat(events.expiredAt.get(id)).isGreaterThanOrEqualTo(created.expiresAt()); // never early
    assertThat(events.expired).doesNotContain(deleted);
  }
}
