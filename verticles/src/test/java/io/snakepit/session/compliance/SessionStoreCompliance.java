package io.snakepit.session.compliance;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.snakepit.session.HybridLogicalClock;
import io.snakepit.session.Session;
import io.snakepit.session.SessionIds;
import io.snakepit.session.SessionPage;
import io.snakepit.session.SessionSettings;
import io.snakepit.session.SessionStore;
import io.snakepit.session.Stamped;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * The compliance kit of the session-store SPI: every {@link SessionStore}
 * adapter must pass it. Extend this class in your adapter's tests and
 * implement {@link #newStore}; everything else is inherited.
 *
 * <pre>{@code
 * class MyStoreComplianceTest extends SessionStoreCompliance {
 *   protected Future<SessionStore> newStore(Vertx vertx, SessionSettings settings) {
 *     return new MyStoreFactory().create(vertx, settings, new JsonObject());
 *   }
 * }
 * }</pre>
 *
 * <p>Each test gets a fresh {@link Vertx}, fresh settings (its own node id,
 * a new {@link HybridLogicalClock}, a fresh empty data directory) and fresh
 * stores; they are closed after the test with {@link #closeStore}. Store
 * operations are called from plain (non event-loop) test threads, several at
 * once in the concurrency tests. Nothing sleeps to synchronise: conditions
 * that depend on time are polled with generous deadlines, and no test asserts
 * how long anything took.
 */
public abstract class SessionStoreCompliance extends SessionStoreTestSupport {

  // ==== create ==================================================================================

  @Test
  void createIsIdempotent() {
    SessionStore store = open();
    SessionStore.Created first = await(store.create("idem-1", 60_000, new JsonObject().put("owner", "a")));
    assertThat(first.created()).isTrue();
    assertThat(first.session().id()).isEqualTo("idem-1");
    assertThat(first.session().ttlMs()).isEqualTo(60_000);
    assertThat(first.session().isDeleted()).isFalse();

    SessionStore.Created again = await(store.create("idem-1", 120_000, new JsonObject().put("owner", "b")));
    assertThat(again.created()).as("a second create of a live id").isFalse();
    assertThat(again.session().id()).isEqualTo("idem-1");
    assertThat(again.session().createdAt()).isEqualTo(first.session().createdAt());
    assertThat(again.session().version()).isEqualTo(first.session().version());
    assertThat(again.session().ttlMs()).as("the existing session is returned unchanged").isEqualTo(60_000);
    assertJsonEquals(again.session().metadata().get("owner").value(), "a");
    assertThat(await(store.count())).isEqualTo(1L);
  }

  @Test
  void createWithDefaultTtl() {
    SessionStore store = open();
    Session s = await(store.create("ttl-default", 0, null)).session();
    assertThat(s.ttlMs()).isEqualTo(store.settings().limits().defaultTtlMs());
    assertThat(s.version()).isPositive();
    assertThat(s.variables()).isEmpty();
    assertThat(s.programs()).isEmpty();
  }

  @Test
  void concurrentCreatesOfOneIdCreateItOnce() throws Exception {
    SessionStore store = open();
    int threads = 8;
    for (int round = 0; round < 5; round++) {
      String id = "racy-" + round;
      List<Callable<SessionStore.Created>> tasks = new ArrayList<>();
      for (int i = 0; i < threads; i++) {
        JsonObject meta = new JsonObject().put("thread", i);
        tasks.add(() -> await(store.create(id, 60_000, meta)));
      }
      List<SessionStore.Created> results = runConcurrently(tasks);
      assertThat(results.stream().filter(SessionStore.Created::created).count())
          .as("creates reporting created=true for %s", id).isEqualTo(1);
      Session winner = results.stream().filter(SessionStore.Created::created).findFirst().orElseThrow().session();
      for (SessionStore.Created c : results) {
        assertThat(c.session().id()).isEqualTo(id);
        assertThat(c.session().createdAt()).isEqualTo(winner.createdAt());
        assertThat(c.session().version()).isEqualTo(winner.version());
        assertThat(content(c.session())).as("every create sees the same session").isEqualTo(content(winner));
      }
      assertThat(content(await(store.get(id)))).isEqualTo(content(winner));
    }
    assertThat(await(store.count())).isEqualTo(5L);
  }

  @Test
  void generatedIdsAreValidAndDistinct() {
    SessionStore store = open();
    Set<String> ids = new HashSet<>();
    for (int i = 0; i < 200; i++) {
      SessionStore.Created c = await(store.create(null, 60_000, null));
      assertThat(c.created()).isTrue();
      assertThat(SessionIds.isValid(c.session().id())).as("valid id: %s", c.session().id()).isTrue();
      assertThat(ids.add(c.session().id())).as("distinct id: %s", c.session().id()).isTrue();
    }
    for (String id : ids) {
      assertThat(await(store.exists(id))).isTrue();
    }
    assertThat(await(store.count())).isEqualTo(200L);
  }

  @Test
  void invalidIdsAreRejectedWithoutChange() {
    SessionStore store = open();
    List<String> bad = List.of("", " ", "a b", "a/b", "a?b", "é", "a\nb", "x".repeat(129), "{}", "a%20b");
    for (String id : bad) {
      awaitFailure(store.create(id, 60_000, null), ErrorCode.BAD_REQUEST);
    }
    awaitFailure(store.create("bad-meta-key", 60_000, new JsonObject().put("", 1)), ErrorCode.BAD_REQUEST);
    assertThat(await(store.exists("bad-meta-key"))).isFalse();
    assertThat(await(store.count())).isZero();
    assertThat(await(store.list(null, 100)).sessions()).isEmpty();
    // The edges of what is valid.
    String longest = "y".repeat(128);
    assertThat(await(store.create(longest, 60_000, null)).created()).isTrue();
    assertThat(await(store.create("A-z_0.9:x", 60_000, null)).created()).isTrue();
    assertThat(await(store.count())).isEqualTo(2L);
  }

  @Test
  void invalidTtlIsRejectedWithoutChange() {
    SessionStore store = open();
    long max = store.settings().limits().maxTtlMs();
    awaitFailure(store.create("ttl-too-long", max + 1000, null), ErrorCode.BAD_REQUEST);
    awaitFailure(store.create("ttl-negative", -5_000, null), ErrorCode.BAD_REQUEST);
    assertThat(await(store.exists("ttl-too-long"))).isFalse();
    assertThat(await(store.exists("ttl-negative"))).isFalse();
    assertThat(await(store.count())).isZero();
    assertThat(await(store.create("ttl-max", max, null)).session().ttlMs()).isEqualTo(max);
  }

  // ==== not found ===============================================================================

  @Test
  void missingSessionIsNotFound() {
    SessionStore store = open();
    String id = "never-created";
    awaitFailure(store.get(id), ErrorCode.SESSION_NOT_FOUND);
    assertThat(await(store.exists(id))).isFalse();
    awaitFailure(store.update(id, s -> s.withVariable("x", stamp(store, 1))), ErrorCode.SESSION_NOT_FOUND);
    awaitFailure(store.putVariable(id, "x", 1), ErrorCode.SESSION_NOT_FOUND);
    awaitFailure(store.getVariable(id, "x"), ErrorCode.SESSION_NOT_FOUND);
    awaitFailure(store.deleteVariable(id, "x"), ErrorCode.SESSION_NOT_FOUND);
    awaitFailure(store.putProgram(id, "p", new JsonObject().put("code", "1")), ErrorCode.SESSION_NOT_FOUND);
    awaitFailure(store.getProgram(id, "p"), ErrorCode.SESSION_NOT_FOUND);
    awaitFailure(store.putMetadata(id, "k", "v"), ErrorCode.SESSION_NOT_FOUND);
    awaitFailure(store.recordServedBy(id, "n", "w"), ErrorCode.SESSION_NOT_FOUND);
    assertThat(await(store.delete(id))).isFalse();
    assertThat(await(store.delete(id))).isFalse();
    assertThat(await(store.exists(id))).as("no operation created it").isFalse();
    assertThat(await(store.count())).isZero();
  }

  @Test
  void deleteIsIdempotent() {
    SessionStore store = open();
    await(store.create("del-1", 60_000, null));
    await(store.putVariable("del-1", "x", 1));
    assertThat(await(store.delete("del-1"))).isTrue();
    assertThat(await(store.delete("del-1"))).isFalse();
    assertThat(await(store.delete("del-1"))).isFalse();
    assertThat(await(store.exists("del-1"))).isFalse();
    awaitFailure(store.get("del-1"), ErrorCode.SESSION_NOT_FOUND);
    awaitFailure(store.putVariable("del-1", "x", 2), ErrorCode.SESSION_NOT_FOUND);
    // A deleted id can be created again, empty.
    SessionStore.Created again = await(store.create("del-1", 60_000, null));
    assertThat(again.created()).isTrue();
    assertThat(again.session().hasVariable("x")).isFalse();
  }

  // ==== claims ==================================================================================

  @Test
  void aClaimRecordsTheNodeAndOrdersClaimsByDifferentNodes() {
    SessionStore store = open();
    await(store.create("claim-1", 60_000, null));
    await(store.recordServedBy("claim-1", "n1", "w1"));
    SessionStore.Claim byN2 = await(store.claim("claim-1", "n2"));
    assertThat(byN2.previous().lastNode()).isEqualTo("n1");
    assertThat(byN2.previous().lastWorker()).isEqualTo("w1");
    Session after = await(store.get("claim-1"));
    assertThat(after.lastNode()).isEqualTo("n2");
    assertThat(after.lastWorker()).as("no worker until the call has run").isNull();
    assertThat(byN2.order()).isEqualTo(after.version());
    // Claims by the node that holds it change nothing and share its order.
    SessionStore.Claim again = await(store.claim("claim-1", "n2"));
    assertThat(again.previous().lastNode()).isEqualTo("n2");
    assertThat(again.order()).isEqualTo(byN2.order());
    assertThat(await(store.get("claim-1")).version()).isEqualTo(after.version());
    // Another node's claim comes after both.
    SessionStore.Claim byN1 = await(store.claim("claim-1", "n1"));
    assertThat(byN1.previous().lastNode()).isEqualTo("n2");
    assertThat(byN1.order()).isGreaterThan(byN2.order());
    awaitFailure(store.claim("claim-missing", "n1"), ErrorCode.SESSION_NOT_FOUND);
  }

  // ==== counters ================================================================================

  @Test
  void countersAddUpAndOnlyMoveByIncrements() {
    SessionStore store = open();
    await(store.create("ctr-1", 60_000, null));
    assertThat(await(store.increment("ctr-1", "n", 1))).isEqualTo(1L);
    assertThat(await(store.increment("ctr-1", "n", 41))).isEqualTo(42L);
    assertThat(await(store.increment("ctr-1", "n", -2))).isEqualTo(40L);
    assertThat(((Number) await(store.getVariable("ctr-1", "n"))).longValue()).isEqualTo(40L);
    assertThat(await(store.get("ctr-1")).variablesJson().getLong("n")).isEqualTo(40L);
    long version = await(store.get("ctr-1")).version();
    // A counter is not set or deleted; a plain value is not incremented; nothing changes.
    awaitFailure(store.putVariable("ctr-1", "n", 7), ErrorCode.BAD_REQUEST);
    awaitFailure(store.deleteVariable("ctr-1", "n"), ErrorCode.BAD_REQUEST);
    await(store.putVariable("ctr-1", "plain", "x"));
    awaitFailure(store.increment("ctr-1", "plain", 1), ErrorCode.BAD_REQUEST);
    awaitFailure(store.increment("ctr-1", "n", Long.MAX_VALUE), ErrorCode.LIMIT_EXCEEDED);
    awaitFailure(store.increment("ctr-1", "", 1), ErrorCode.BAD_REQUEST);
    awaitFailure(store.increment("ctr-missing", "n", 1), ErrorCode.SESSION_NOT_FOUND);
    Session after = await(store.get("ctr-1"));
    assertThat(((Number) after.variable("n")).longValue()).isEqualTo(40L);
    assertThat(after.variable("plain")).isEqualTo("x");
    assertThat(after.version()).isEqualTo(version + 1);
    // Counted against max-variables like any variable.
    SessionStore small = open(limits(b -> b.maxVariables(1)));
    await(small.create("ctr-2", 60_000, null));
    await(small.increment("ctr-2", "a", 1));
    awaitFailure(small.increment("ctr-2", "b", 1), ErrorCode.LIMIT_EXCEEDED);
  }

  @Test
  void concurrentIncrementsLoseNothing() throws Exception {
    SessionStore store = open(limits(b -> b.maxUpdateRetries(64)));
    await(store.create("ctr-3", 600_000, null));
    int threads = 8;
    int perThread = 25;
    List<Callable<Integer>> tasks = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      tasks.add(() -> {
        for (int i = 0; i < perThread; i++) {
          await(store.increment("ctr-3", "n", 1));
        }
        return perThread;
      });
    }
    runConcurrently(tasks);
    assertThat(((Number) await(store.getVariable("ctr-3", "n"))).longValue()).isEqualTo((long) threads * perThread);
  }

  // ==== concurrent updates ======================================================================

  @Test
  void concurrentUpdatesLoseNothing() throws Exception {
    SessionStore store = open(limits(b -> b.maxUpdateRetries(16)));
    String id = "counter";
    long v0 = await(store.create(id, 600_000, null)).session().version();
    int threads = 8;
    int perThread = 50;
    AtomicInteger conflicts = new AtomicInteger();
    List<Callable<Integer>> tasks = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      tasks.add(() -> {
        int done = 0;
        while (done < perThread) {
          ErrorCode code = outcome(store.update(id,
              s -> s.withVariable("n", stamp(store, counter(s, "n") + 1))));
          if (code == null) {
            done++;
          } else if (code == ErrorCode.CONFLICT) {
            conflicts.incrementAndGet(); // not applied: the caller may retry
          } else {
            throw new AssertionError("unexpected failure " + code);
          }
        }
        return done;
      });
    }
    runConcurrently(tasks);
    Session s = await(store.get(id));
    assertThat(counter(s, "n")).as("increments (with %s conflicts retried)", conflicts.get())
        .isEqualTo(threads * perThread);
    assertThat(s.version()).as("one version per applied change").isEqualTo(v0 + threads * perThread);
  }

  @Test
  void updateThatAlwaysRacesFailsWithConflictAndChangesNothing() throws Exception {
    int retries = 4;
    SessionStore store = open(limits(b -> b.maxUpdateRetries(retries)));
    String id = "always-races";
    await(store.create(id, 600_000, null));
    await(store.putVariable(id, "stable", "yes"));
    long v0 = await(store.get(id)).version();
    AtomicInteger calls = new AtomicInteger();
    // fn makes a concurrent change every time it runs (and waits for it), so no attempt can win.
    UnaryOperator<Session> racing = s -> {
      int n = calls.incrementAndGet();
      if (n > 1000) {
        throw new AssertionError("the update does not stop retrying");
      }
      await(store.putVariable(id, "interference", n));
      return s.withVariable("mine", stamp(store, "applied"));
    };
    // Started from a plain thread, not an event loop, since fn blocks.
    SnakepitException e = runConcurrently(List.<Callable<SnakepitException>>of(
        () -> awaitFailure(store.update(id, racing), ErrorCode.CONFLICT))).get(0);
    assertThat(e.getMessage()).isNotBlank();
    assertThat(calls.get()).as("fn ran, was retried, and at most 1 + max-update-retries times")
        .isBetween(2, retries + 1);
    Session after = await(store.get(id));
    assertThat(after.hasVariable("mine")).as("the conflicting update was not applied").isFalse();
    assertJsonEquals(after.variable("stable"), "yes");
    assertJsonEquals(after.variable("interference"), calls.get());
    assertThat(after.version()).as("only the interfering changes counted").isEqualTo(v0 + calls.get());
  }

  @Test
  void updateAbortedByFnChangesNothing() {
    SessionStore store = open();
    await(store.create("abort", 60_000, null));
    await(store.putVariable("abort", "x", 1));
    Session before = await(store.get("abort"));
    SnakepitException e = awaitFailure(store.update("abort", s -> {
      throw new SnakepitException(ErrorCode.BAD_REQUEST, "no thanks");
    }), ErrorCode.BAD_REQUEST);
    assertThat(e.getMessage()).isEqualTo("no thanks");
    assertThat(content(await(store.get("abort")))).isEqualTo(content(before));
  }

  @Test
  void updateThatChangesNothingKeepsTheVersion() {
    SessionStore store = open();
    long v0 = await(store.create("noop", 60_000, null)).session().version();
    Session s = await(store.update("noop", UnaryOperator.identity()));
    assertThat(s.version()).isEqualTo(v0);
    assertThat(await(store.get("noop")).version()).isEqualTo(v0);
  }

  // ==== TTL =====================================================================================

  @Test
  void sessionExpiresAfterItsTtl() {
    // A sweep that never runs during the test: expiry must show without it.
    SessionStore store = open(settings(limits(), 3_600_000));
    await(store.create("short", 400, null));
    await(store.create("long", 600_000, null));
    pollUntil("the short-lived session expires", Duration.ofSeconds(30), () -> !await(store.exists("short")));
    awaitFailure(store.get("short"), ErrorCode.SESSION_NOT_FOUND);
    awaitFailure(store.putVariable("short", "x", 1), ErrorCode.SESSION_NOT_FOUND);
    awaitFailure(store.update("short", s -> s.withVariable("x", stamp(store, 1))), ErrorCode.SESSION_NOT_FOUND);
    assertThat(await(store.list(null, 100)).sessions()).extracting(Session::id).containsExactly("long");
    assertThat(await(store.exists("long"))).isTrue();
    assertThat(await(store.delete("short"))).as("deleting an expired session: it did not exist").isFalse();
    // An expired id is free again.
    SessionStore.Created again = await(store.create("short", 600_000, null));
    assertThat(again.created()).isTrue();
    assertThat(again.session().ttlMs()).isEqualTo(600_000);
  }

  @Test
  void expiredSessionsLeaveTheCount() {
    SessionStore store = open(settings(limits(), 100));
    for (int i = 0; i < 5; i++) {
      await(store.create("brief-" + i, 300, null));
    }
    await(store.create("stays", 600_000, null));
    pollUntil("expired sessions are no longer counted", Duration.ofSeconds(30), () -> await(store.count()) == 1L);
    assertThat(await(store.stats()).getLong("count")).isEqualTo(1L);
  }

  @Test
  void readsSlideTheTtl() {
    long ttl = 3_000;
    SessionStore store = open(settings(limits(b -> b.touchGranularityMs(0)), 100));
    String id = "sliding";
    long createdAccess = await(store.create(id, ttl, null)).session().accessedAt();
    // Keep reading for well over the TTL: the session must stay alive throughout.
    long readUntil = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ttl + 1_000);
    long lastAccess = createdAccess;
    int reads = 0;
    while (System.nanoTime() < readUntil) {
      Session s = await(store.get(id));
      lastAccess = s.accessedAt();
      reads++;
      pause(50);
    }
    assertThat(reads).isPositive();
    assertThat(lastAccess).as("reads moved the access time").isGreaterThan(createdAccess);
    assertThat(await(store.exists(id))).isTrue();
    // Stop reading (exists() does not touch): now it expires.
    pollUntil("the session expires once nobody reads it", Duration.ofSeconds(30), () -> !await(store.exists(id)));
    awaitFailure(store.get(id), ErrorCode.SESSION_NOT_FOUND);
  }

  // ==== paging ==================================================================================

  @Test
  void listPagesInIdOrderWhileTheStoreChanges() {
    SessionStore store = open();
    TreeSet<String> initial = new TreeSet<>();
    List<Future<SessionStore.Created>> creating = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      String id = String.format("page-%03d", i);
      initial.add(id);
      creating.add(store.create(id, 600_000, null));
    }
    await(Future.all(creating));
    assertThat(await(store.count())).isEqualTo(300L);

    Random rnd = new Random(7);
    Set<String> deleted = new HashSet<>();
    Set<String> seen = new HashSet<>();
    String cursor = null;
    String lastId = null;
    int pages = 0;
    int created = 0;
    do {
      SessionPage page = await(store.list(cursor, 7));
      pages++;
      assertThat(pages).as("paging ends").isLessThan(1_000);
      assertThat(page.sessions().size()).isLessThanOrEqualTo(7);
      for (Session s : page.sessions()) {
        assertThat(s.isDeleted()).isFalse();
        if (lastId != null) {
          assertThat(s.id()).as("id order across pages").isGreaterThan(lastId);
        }
        assertThat(seen.add(s.id())).as("%s appears once", s.id()).isTrue();
        assertThat(deleted).as("a session deleted before its page was read").doesNotContain(s.id());
        lastId = s.id();
      }
      cursor = page.nextCursor();
      if (cursor != null) {
        // Delete two sessions not yet visited, create two new ones on either side of the cursor.
        List<String> ahead = new ArrayList<>(initial.tailSet(lastId, false));
        ahead.removeAll(deleted);
        for (int k = 0; k < 2 && !ahead.isEmpty(); k++) {
          String victim = ahead.remove(rnd.nextInt(ahead.size()));
          assertThat(await(store.delete(victim))).isTrue();
          deleted.add(victim);
        }
        for (int k = 0; k < 2; k++) {
          String id = String.format("page-%03d-new-%d", rnd.nextInt(300), created++);
          await(store.create(id, 600_000, null));
        }
      }
    } while (cursor != null);

    Set<String> stable = new TreeSet<>(initial);
    stable.removeAll(deleted);
    assertThat(deleted).isNotEmpty();
    assertThat(seen).as("every session that existed throughout").containsAll(stable);
    assertThat(pages).isGreaterThanOrEqualTo(stable.size() / 7);
    assertThat(await(store.count())).isEqualTo(300L - deleted.size() + created);
  }

  @Test
  void listOfAnEmptyStoreAndSmallPages() {
    SessionStore store = open();
    SessionPage empty = await(store.list(null, 10));
    assertThat(empty.sessions()).isEmpty();
    assertThat(empty.nextCursor()).isNull();
    for (String id : List.of("c", "a", "e", "b", "d")) {
      await(store.create(id, 600_000, null));
    }
    SessionPage all = await(store.list(null, 10));
    assertThat(all.sessions()).extracting(Session::id).containsExactly("a", "b", "c", "d", "e");
    assertThat(all.nextCursor()).isNull();
    List<String> ids = new ArrayList<>();
    String cursor = null;
    int pages = 0;
    do {
      SessionPage p = await(store.list(cursor, 2));
      assertThat(p.sessions().size()).isBetween(0, 2);
      p.sessions().forEach(s -> ids.add(s.id()));
      cursor = p.nextCursor();
      assertThat(++pages).isLessThan(10);
    } while (cursor != null);
    assertThat(ids).containsExactly("a", "b", "c", "d", "e");
  }

  // ==== limits ==================================================================================

  private SessionStore openSmall() {
    return open(limits(b -> b.maxVariables(3).maxValueBytes(64).maxPrograms(2).maxProgramBytes(256)
        .maxMetadataBytes(128).maxSessions(5)));
  }

  @Test
  void tooManyVariablesIsLimitExceeded() {
    SessionStore store = openSmall();
    await(store.create("lim", 600_000, null));
    for (int i = 0; i < 3; i++) {
      await(store.putVariable("lim", "v" + i, i));
    }
    Session before = await(store.get("lim"));
    SnakepitException e = awaitFailure(store.putVariable("lim", "v3", 3), ErrorCode.LIMIT_EXCEEDED);
    assertThat(e.details().getString("limit")).isEqualTo("max-variables");
    Session after = await(store.get("lim"));
    assertThat(after.version()).isEqualTo(before.version());
    assertThat(content(after)).isEqualTo(content(before));
    // Replacing or deleting within the limit still works.
    await(store.putVariable("lim", "v0", "replaced"));
    await(store.deleteVariable("lim", "v1"));
    await(store.putVariable("lim", "v3", 3));
    assertThat(await(store.get("lim")).variableCount()).isEqualTo(3);
  }

  @Test
  void valueOverMaxValueBytesIsLimitExceeded() {
    SessionStore store = openSmall();
    await(store.create("big", 600_000, null));
    await(store.putVariable("big", "x", "small"));
    Session before = await(store.get("big"));
    SnakepitException e = awaitFailure(store.putVariable("big", "x", "z".repeat(100)), ErrorCode.LIMIT_EXCEEDED);
    assertThat(e.details().getString("limit")).isEqualTo("max-value-bytes");
    awaitFailure(store.putVariable("big", "y", new JsonObject().put("blob", "z".repeat(100))),
        ErrorCode.LIMIT_EXCEEDED);
    awaitFailure(store.putVariable("big", "y", new JsonArray().add("z".repeat(100))), ErrorCode.LIMIT_EXCEEDED);
    Session after = await(store.get("big"));
    assertThat(after.version()).isEqualTo(before.version());
    assertThat(content(after)).isEqualTo(content(before));
    assertJsonEquals(after.variable("x"), "small");
  }

  @Test
  void programOverMaxProgramBytesIsLimitExceeded() {
    SessionStore store = openSmall();
    await(store.create("prog", 600_000, null));
    await(store.putProgram("prog", "p1", new JsonObject().put("code", "x = 1")));
    Session before = await(store.get("prog"));
    SnakepitException e = awaitFailure(store.putProgram("prog", "p2",
        new JsonObject().put("code", "#".repeat(300))), ErrorCode.LIMIT_EXCEEDED);
    assertThat(e.details().getString("limit")).isEqualTo("max-program-bytes");
    await(store.putProgram("prog", "p2", new JsonObject().put("code", "y = 2")));
    Session two = await(store.get("prog"));
    e = awaitFailure(store.putProgram("prog", "p3", new JsonObject().put("code", "z = 3")),
        ErrorCode.LIMIT_EXCEEDED);
    assertThat(e.details().getString("limit")).isEqualTo("max-programs");
    Session after = await(store.get("prog"));
    assertThat(after.version()).isEqualTo(two.version()).isEqualTo(before.version() + 1);
    assertThat(content(after)).isEqualTo(content(two));
    awaitFailure(store.getProgram("prog", "p3"), ErrorCode.NOT_FOUND_IN_SESSION);
  }

  @Test
  void metadataOverMaxMetadataBytesIsLimitExceeded() {
    SessionStore store = openSmall();
    awaitFailure(store.create("meta", 600_000, new JsonObject().put("k", "m".repeat(200))),
        ErrorCode.LIMIT_EXCEEDED);
    assertThat(await(store.exists("meta"))).as("a create past a limit creates nothing").isFalse();
    assertThat(await(store.count())).isZero();
    await(store.create("meta", 600_000, new JsonObject().put("k", "small")));
    Session before = await(store.get("meta"));
    awaitFailure(store.putMetadata("meta", "k2", "m".repeat(200)), ErrorCode.LIMIT_EXCEEDED);
    Session after = await(store.get("meta"));
    assertThat(after.version()).isEqualTo(before.version());
    assertThat(content(after)).isEqualTo(content(before));
  }

  @Test
  void maxSessionsIsLimitExceeded() {
    SessionStore store = openSmall();
    for (int i = 0; i < 5; i++) {
      await(store.create("s" + i, 600_000, null));
    }
    SnakepitException e = awaitFailure(store.create("s5", 600_000, null), ErrorCode.LIMIT_EXCEEDED);
    assertThat(e.details().getString("limit")).isEqualTo("max-sessions");
    awaitFailure(store.create(null, 600_000, null), ErrorCode.LIMIT_EXCEEDED);
    assertThat(await(store.exists("s5"))).isFalse();
    assertThat(await(store.count())).isEqualTo(5L);
    // Creating an existing id is not a new session.
    assertThat(await(store.create("s0", 600_000, null)).created()).isFalse();
    // Room again after a delete.
    assertThat(await(store.delete("s1"))).isTrue();
    assertThat(await(store.create("s5", 600_000, null)).created()).isTrue();
    assertThat(await(store.count())).isEqualTo(5L);
  }

  // ==== delete racing updates ===================================================================

  @Test
  void deleteRacingUpdatesWinsOrLosesAsAWhole() throws Exception {
    // Retries high enough that contention alone never makes a conflict.
    SessionStore store = open(limits(b -> b.maxUpdateRetries(1000)));
    for (int round = 0; round < 5; round++) {
      String id = "doomed-" + round;
      await(store.create(id, 600_000, null));
      List<Callable<List<Object>>> tasks = new ArrayList<>();
      for (int t = 0; t < 2; t++) {
        tasks.add(() -> {
          List<Object> results = new ArrayList<>();
          for (int k = 0; k < 3; k++) {
            results.add(await(store.delete(id)));
          }
          return results;
        });
      }
      for (int t = 0; t < 6; t++) {
        String var = "t" + t;
        tasks.add(() -> {
          List<Object> results = new ArrayList<>();
          boolean gone = false;
          for (int k = 0; k < 40; k++) {
            int value = k;
            ErrorCode code = outcome(store.update(id, s -> s.withVariable(var, stamp(store, value))));
            assertThat(code).as("an update racing a delete").isIn(null, ErrorCode.SESSION_NOT_FOUND);
            if (code == null) {
              assertThat(gone).as("an update succeeded after one had found the session gone").isFalse();
            } else {
              gone = true;
            }
            results.add(code == null ? "ok" : code);
          }
          return results;
        });
      }
      List<List<Object>> results = runConcurrently(tasks);
      long trues = results.subList(0, 2).stream().flatMap(List::stream).filter(Boolean.TRUE::equals).count();
      assertThat(trues).as("deletes that returned true").isEqualTo(1);
      assertThat(await(store.exists(id))).isFalse();
      awaitFailure(store.get(id), ErrorCode.SESSION_NOT_FOUND);
      assertThat(await(store.list(null, 100)).sessions()).extracting(Session::id).doesNotContain(id);
      awaitFailure(store.update(id, s -> s.withVariable("late", stamp(store, 1))), ErrorCode.SESSION_NOT_FOUND);
    }
    assertThat(await(store.count())).isZero();
  }

  @Test
  void deleteRacingCreateLeavesNoStaleTombstone() throws Exception {
    // A delete and a create of one id at once: either order is fine, but if the session exists
    // afterwards it is a live session like any other; the delete's tombstone must not outlive it
    // (else merging the session's own copy, as an import or a replica does, would delete it).
    // Each round starts the two with a random small offset so that every interleaving is tried.
    SessionStore store = open();
    int rounds = 1_000_000; // in practice bounded by the time budget below
    CyclicBarrier go = new CyclicBarrier(2);
    ExecutorService pool = newPool(1);
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
    java.util.concurrent.Future<?> deleter = pool.submit(() -> {
      Random rnd = new Random(1);
      for (int r = 0; r < rounds; r++) {
        go.await(30, TimeUnit.SECONDS);
        spin(rnd.nextInt(400));
        await(store.delete("cd-" + r));
        go.await(30, TimeUnit.SECONDS);
      }
      return null;
    });
    Random rnd = new Random(2);
    List<String> lost = new ArrayList<>();
    int played = 0;
    for (int r = 0; r < rounds && System.nanoTime() < end; r++, played++) {
      String id = "cd-" + r;
      await(store.create(id, 600_000, null));
      go.await(30, TimeUnit.SECONDS);
      spin(rnd.nextInt(400));
      SessionStore.Created c = await(store.create(id, 600_000, null));
      go.await(30, TimeUnit.SECONDS);
      if (await(store.exists(id))) {
        await(store.merge(await(store.get(id))));
        if (!await(store.exists(id))) {
          lost.add(id + " (created=" + c.created() + ")");
        }
      }
      await(store.delete(id)); // keep the store small
    }
    deleter.cancel(true);
    assertThat(lost).as("live sessions deleted by merging their own copy, after a create raced a delete "
        + "(%s rounds)", played).isEmpty();
  }

  private static void spin(int n) {
    for (int i = 0; i < n; i++) {
      Thread.onSpinWait();
    }
  }

  // ==== variables and programs ==================================================================

  @Test
  void variablesPutGetDelete() {
    SessionStore store = open();
    await(store.create("vars", 600_000, null));
    awaitFailure(store.getVariable("vars", "x"), ErrorCode.NOT_FOUND_IN_SESSION);
    Session s = await(store.putVariable("vars", "x", 41));
    assertJsonEquals(s.variable("x"), 41);
    await(store.putVariable("vars", "x", 42));
    assertJsonEquals(await(store.getVariable("vars", "x")), 42);
    assertThat(await(store.get("vars")).variablesJson()).isEqualTo(new JsonObject().put("x", 42));
    await(store.deleteVariable("vars", "x"));
    awaitFailure(store.getVariable("vars", "x"), ErrorCode.NOT_FOUND_IN_SESSION);
    long v = await(store.get("vars")).version();
    Session again = await(store.deleteVariable("vars", "x"));
    assertThat(again.version()).as("deleting a missing variable changes nothing").isEqualTo(v);
    await(store.deleteVariable("vars", "never-set"));
    assertThat(await(store.get("vars")).version()).isEqualTo(v);
    assertThat(await(store.get("vars")).variableCount()).isZero();
    // Set again after a delete.
    await(store.putVariable("vars", "x", "back"));
    assertJsonEquals(await(store.getVariable("vars", "x")), "back");
    awaitFailure(store.putVariable("vars", "", 1), ErrorCode.BAD_REQUEST);
    awaitFailure(store.putVariable("vars", "n".repeat(129), 1), ErrorCode.BAD_REQUEST);
  }

  @Test
  void variableValuesOfEveryJsonKind() {
    SessionStore store = open();
    await(store.create("kinds", 600_000, null));
    Map<String, Object> values = new LinkedHashMap<>();
    values.put("string", "héllo \"wörld\"\n");
    values.put("empty", "");
    values.put("int", 42);
    values.put("negative", -7);
    values.put("long", 1L << 40);
    values.put("double", 3.25);
    values.put("true", true);
    values.put("false", false);
    values.put("null", null);
    values.put("object", new JsonObject().put("a", 1).put("b", new JsonArray().add("x").addNull())
        .put("c", new JsonObject().put("deep", true)));
    values.put("emptyObject", new JsonObject());
    values.put("array", new JsonArray().add(1).add("two").add(3.5).add(false).addNull()
        .add(new JsonObject().put("k", "v")));
    values.put("emptyArray", new JsonArray());
    values.forEach((k, v) -> await(store.putVariable("kinds", k, v)));
    for (var e : values.entrySet()) {
      assertJsonEquals(await(store.getVariable("kinds", e.getKey())), e.getValue());
    }
    Session s = await(store.get("kinds"));
    assertThat(s.variableCount()).isEqualTo(values.size());
    assertThat(s.hasVariable("null")).as("a null value is a value").isTrue();
    JsonObject expected = new JsonObject();
    values.forEach(expected::put);
    assertThat(s.variablesJson()).isEqualTo(expected);
  }

  @Test
  void programsPutGet() {
    SessionStore store = open();
    await(store.create("progs", 600_000, null));
    awaitFailure(store.getProgram("progs", "main"), ErrorCode.NOT_FOUND_IN_SESSION);
    JsonObject doc = new JsonObject().put("code", "def f(x):\n    return x + 1\n").put("language", "python")
        .put("args", new JsonArray().add("x"));
    await(store.putProgram("progs", "main", doc));
    assertThat(await(store.getProgram("progs", "main"))).isEqualTo(doc);
    JsonObject doc2 = new JsonObject().put("code", "pass");
    await(store.putProgram("progs", "main", doc2));
    await(store.putProgram("progs", "other", doc));
    assertThat(await(store.getProgram("progs", "main"))).isEqualTo(doc2);
    assertThat(await(store.getProgram("progs", "other"))).isEqualTo(doc);
    Session s = await(store.get("progs"));
    assertThat(s.programCount()).isEqualTo(2);
    assertThat(s.toJson().getJsonArray("program_ids")).containsExactlyInAnyOrder("main", "other");
    awaitFailure(store.getProgram("progs", "missing"), ErrorCode.NOT_FOUND_IN_SESSION);
  }

  @Test
  void versionIncrementsByOnePerChange() {
    SessionStore store = open();
    long v = await(store.create("ver", 600_000, null)).session().version();
    v = expectVersion(store.putVariable("ver", "a", 1), v + 1);
    v = expectVersion(store.putVariable("ver", "a", 2), v + 1);
    v = expectVersion(store.putVariable("ver", "b", 3), v + 1);
    v = expectVersion(store.deleteVariable("ver", "a"), v + 1);
    v = expectVersion(store.putProgram("ver", "p", new JsonObject().put("code", "1")), v + 1);
    v = expectVersion(store.putMetadata("ver", "owner", "me"), v + 1);
    v = expectVersion(store.update("ver", s -> s.withTtl(120_000)), v + 1);
    v = expectVersion(store.recordServedBy("ver", "node-1", "pool-0.0"), v + 1);
    // Reads do not change the version.
    assertThat(await(store.get("ver")).version()).isEqualTo(v);
    assertThat(await(store.get("ver")).version()).isEqualTo(v);
    assertThat(await(store.exists("ver"))).isTrue();
    assertThat(await(store.list(null, 10)).sessions().get(0).version()).isEqualTo(v);
    Session s = await(store.get("ver"));
    assertThat(s.ttlMs()).isEqualTo(120_000);
    assertJsonEquals(s.metadata().get("owner").value(), "me");
  }

  private static long expectVersion(Future<Session> change, long expected) {
    Session s = await(change);
    assertThat(s.version()).as("version after a change").isEqualTo(expected);
    return expected;
  }

  @Test
  void recordServedBy() {
    SessionStore store = open();
    long v = await(store.create("served", 600_000, null)).session().version();
    Session s = await(store.recordServedBy("served", "node-1", "pool-0.0"));
    assertThat(s.lastNode()).isEqualTo("node-1");
    assertThat(s.lastWorker()).isEqualTo("pool-0.0");
    assertThat(s.version()).isEqualTo(v + 1);
    // The same again changes nothing.
    assertThat(await(store.recordServedBy("served", "node-1", "pool-0.0")).version()).isEqualTo(v + 1);
    s = await(store.recordServedBy("served", "node-2", "pool-0.0"));
    assertThat(s.lastNode()).isEqualTo("node-2");
    assertThat(s.version()).isEqualTo(v + 2);
    Session read = await(store.get("served"));
    assertThat(read.lastNode()).isEqualTo("node-2");
    assertThat(read.lastWorker()).isEqualTo("pool-0.0");
  }

  // ==== merge ===================================================================================

  @Test
  void staleCopyMergedAfterDeleteDoesNotResurrect() {
    SessionStore store = open();
    await(store.create("ghost", 600_000, null));
    await(store.putVariable("ghost", "x", 1));
    await(store.putProgram("ghost", "p", new JsonObject().put("code", "1")));
    Session stale = await(store.get("ghost"));
    assertThat(await(store.delete("ghost"))).isTrue();
    await(store.merge(stale));
    assertThat(await(store.exists("ghost"))).as("a stale copy brought a deleted session back").isFalse();
    awaitFailure(store.get("ghost"), ErrorCode.SESSION_NOT_FOUND);
    assertThat(await(store.count())).isZero();
    assertThat(await(store.list(null, 10)).sessions()).isEmpty();
    // A stale copy with further (older-than-the-delete) writes does not either.
    Session staleEdited = stale.withVariable("y", Stamped.of(2, stale.variables().get("x").hlc() + 1, "a-remote"));
    await(store.merge(staleEdited));
    assertThat(await(store.exists("ghost"))).isFalse();
    assertThat(await(store.delete("ghost"))).isFalse();
  }

  @Test
  void mergeOfADivergedCopyKeepsTheLaterWritePerEntry() {
    SessionStore store = open();
    HybridLogicalClock clock = store.settings().clock();
    String remote = "a-remote"; // sorts before NODE: equal stamps go to the local write
    await(store.create("div", 600_000, null));
    await(store.putVariable("div", "a", 1));
    await(store.putVariable("div", "b", 1));
    await(store.putVariable("div", "d", 1));
    await(store.putVariable("div", "e", 1));
    Session snapshot = await(store.get("div"));
    long aAtSnapshot = snapshot.variables().get("a").hlc();

    // Local writes after the copy was taken.
    await(store.putVariable("div", "a", 2));
    await(store.deleteVariable("div", "e"));
    // The copy's own, concurrent writes: some later than the local ones, one older.
    Session diverged = snapshot
        .withVariable("a", Stamped.of(99, aAtSnapshot + 1, remote))
        .withVariable("b", Stamped.of(3, clock.now(), remote))
        .withVariable("c", Stamped.of("new", clock.now(), remote))
        .withVariable("d", Stamped.tombstone(clock.now(), remote))
        .withProgram("p", Stamped.of(new JsonObject().put("code", "remote"), clock.now(), remote));
    await(store.merge(diverged));

    Session merged = await(store.get("div"));
    assertThat(merged.isDeleted()).isFalse();
    assertJsonEquals(merged.variable("a"), 2);
    assertJsonEquals(merged.variable("b"), 3);
    assertJsonEquals(merged.variable("c"), "new");
    assertThat(merged.hasVariable("d")).as("the copy's later delete").isFalse();
    assertThat(merged.hasVariable("e")).as("the local later delete").isFalse();
    assertThat(await(store.getProgram("div", "p"))).isEqualTo(new JsonObject().put("code", "remote"));
    // Merging the same copy again changes no value.
    await(store.merge(diverged));
    assertThat(await(store.get("div")).variablesJson()).isEqualTo(merged.variablesJson());
    // Later local writes still win over what the merge brought.
    await(store.putVariable("div", "b", 4));
    assertJsonEquals(await(store.getVariable("div", "b")), 4);
  }

  @Test
  void mergeStoresAnUnknownSession() {
    SessionStore store = open();
    HybridLogicalClock clock = store.settings().clock();
    long now = System.currentTimeMillis();
    Session incoming = Session.create("imported", now, 600_000)
        .withVariable("x", Stamped.of(new JsonObject().put("k", 1), clock.now(), "a-remote"))
        .withProgram("p", Stamped.of(new JsonObject().put("code", "1"), clock.now(), "a-remote"));
    await(store.merge(incoming));
    assertThat(await(store.exists("imported"))).isTrue();
    assertJsonEquals(await(store.getVariable("imported", "x")), new JsonObject().put("k", 1));
    assertThat(await(store.getProgram("imported", "p"))).isEqualTo(new JsonObject().put("code", "1"));
    assertThat(await(store.count())).isEqualTo(1L);
    // The local clock has seen the incoming stamps: a local write now wins over them.
    await(store.putVariable("imported", "x", "local"));
    assertThat(await(store.get("imported")).variables().get("x").hlc())
        .isGreaterThan(incoming.variables().get("x").hlc());
  }

  /**
   * What merge completes with is what the store holds afterwards: an import reports a session
   * as skipped from it ({@code SessionStoreVerticle}'s import op), whatever the adapter.
   */
  @Test
  void mergeCompletesWithWhatTheStoreHoldsTheTombstoneWhenADeleteWon() {
    SessionStore store = open();
    await(store.create("gone", 600_000, null));
    await(store.putVariable("gone", "x", 1));
    Session exported = await(store.get("gone"));
    assertThat(await(store.delete("gone"))).isTrue();
    Session result = await(store.merge(exported));
    assertThat(result.isDeleted()).as("a delete after the copy was taken wins; merge says so").isTrue();
    assertThat(await(store.exists("gone"))).isFalse();

    // Created again, the session takes the copy's content: how an operator restores a deleted session.
    await(store.create("gone", 600_000, null));
    Session restored = await(store.merge(exported));
    assertThat(restored.isDeleted()).isFalse();
    assertJsonEquals(restored.variable("x"), 1);
    assertJsonEquals(await(store.getVariable("gone", "x")), 1);

    // A copy whose TTL ran out before it arrived comes back expired: not a session anybody can read.
    long longAgo = System.currentTimeMillis() - 3_600_000;
    Session stale = Session.create("stale", longAgo, 60_000)
        .withVariable("y", Stamped.of(2, store.settings().clock().now(), "a-remote"));
    Session expired = await(store.merge(stale));
    assertThat(expired.isDeleted()).isFalse();
    assertThat(expired.isExpired(System.currentTimeMillis())).isTrue();
    assertThat(await(store.exists("stale"))).isFalse();
  }

  // ==== count, stats, health ====================================================================

  @Test
  void countAndStatsFollowCreatesAndDeletes() {
    SessionStore store = open();
    assertThat(await(store.count())).isZero();
    assertThat(await(store.stats()).getLong("count")).isZero();
    for (int i = 0; i < 7; i++) {
      await(store.create("c" + i, 600_000, null));
    }
    await(store.create("c0", 600_000, null)); // idempotent: not counted twice
    assertThat(await(store.count())).isEqualTo(7L);
    assertThat(await(store.delete("c1"))).isTrue();
    assertThat(await(store.delete("c2"))).isTrue();
    assertThat(await(store.delete("c2"))).isFalse();
    assertThat(await(store.count())).isEqualTo(5L);
    JsonObject stats = await(store.stats());
    assertThat(stats.getLong("count")).isEqualTo(5L);
    assertThat(stats.getString("adapter")).isEqualTo(store.name());
  }

  @Test
  void healthIsUp() {
    SessionStore store = open();
    assertThat(store.name()).isNotBlank();
    assertThat(store.settings().nodeId()).isEqualTo(NODE);
    assertThat(await(store.health()).getString("status")).isEqualTo("UP");
    await(store.create("h", 600_000, null));
    assertThat(await(store.health()).getString("status")).isEqualTo("UP");
  }
}
