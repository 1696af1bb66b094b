package io.snakepit.session.migration;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.snakepit.session.HybridLogicalClock;
import io.snakepit.session.Session;
import io.snakepit.session.SessionSettings;
import io.snakepit.session.SessionStore;
import io.snakepit.session.compliance.SessionStoreTestSupport;
import io.snakepit.session.memory.MemorySessionStoreFactory;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * A migration from one memory store to another, driven as the admin API does: under a concurrent load of
 * counters and registers, through every phase, with the bad steps refused, and across restarts.
 */
class StoreMigrationTest extends SessionStoreTestSupport {

  private static final int SESSIONS = 400;
  private static final int WRITERS = 8;
  private final List<StoreMigration> opened = new ArrayList<>();

  @Override
  protected Future<SessionStore> newStore(Vertx vertx, SessionSettings settings) {
    return new MemorySessionStoreFactory().create(vertx, settings, new JsonObject().put("persistence", false));
  }

  private StoreMigration openMigration(Path dataDir, boolean persistent) {
    return openMigration(dataDir, persistent, UnaryOperator.identity());
  }

  /** @param configured wraps the configured store (the migration's source) */
  private StoreMigration openMigration(Path dataDir, boolean persistent, UnaryOperator<SessionStore> configured) {
    SessionSettings st = new SessionSettings(NODE, new HybridLogicalClock(), limits(), dataDir.toString(), 200,
        3_600_000);
    StoreMigration m = await(StoreMigration.open(vertx, "memory", st, () -> new MemorySessionStoreFactory()
        .create(vertx, st, new JsonObject().put("persistence", persistent)).map(configured)));
    opened.add(m);
    return m;
  }

  private void closeMigration(StoreMigration m) {
    opened.remove(m);
    await(m.close());
    await(m.store().close());
  }

  @org.junit.jupiter.api.AfterEach
  void closeMigrations() {
    new ArrayList<>(opened).forEach(this::closeMigration);
  }

  private static JsonObject to(String adapter, boolean persistent) {
    return new JsonObject().put("to", adapter).put("settings", new JsonObject().put("persistence", persistent));
  }

  private void awaitBackfill(StoreMigration m) {
    pollUntil("the backfill is done", Duration.ofSeconds(60),
        () -> m.status().getJsonObject("backfill").getBoolean("done"));
  }

  private JsonObject verified(StoreMigration m) {
    await(m.verify());
    pollUntil("the verify is done", Duration.ofSeconds(60), () -> {
      JsonObject v = m.status().getJsonObject("verify");
      return v != null && "done".equals(v.getString("state"));
    });
    return m.status().getJsonObject("verify");
  }

  /** Counters and registers written by many callers until stopped; what was acknowledged is recorded. */
  private final class Load {
    final AtomicLongArray increments = new AtomicLongArray(SESSIONS);
    final AtomicLongArray lastRegister = new AtomicLongArray(SESSIONS * WRITERS);
    final AtomicBoolean stop = new AtomicBoolean();
    final List<Callable<Long>> tasks = new ArrayList<>();
    java.util.concurrent.Future<List<Long>> running;

    Load(SessionStore store) {
      for (int w = 0; w < WRITERS; w++) {
        int writer = w;
        tasks.add(() -> {
          long ops = 0;
          long seq = 0;
          while (!stop.get() || ops < 50) {
            int i = ThreadLocalRandom.current().nextInt(SESSIONS);
            if (ops % 2 == 0) {
              await(store.increment(id(i), "count", 1));
              increments.incrementAndGet(i);
            } else {
              await(store.putVariable(id(i), "reg-" + writer, ++seq));
              lastRegister.set(i * WRITERS + writer, seq);
            }
            ops++;
          }
          return ops;
        });
      }
    }

    void start() {
      var pool = newPool(WRITERS + 1);
      running = pool.submit(() -> runConcurrently(tasks));
    }

    long finish() throws Exception {
      stop.set(true);
      return running.get(60, java.util.concurrent.TimeUnit.SECONDS).stream().mapToLong(Long::longValue).sum();
    }

    void assertAllIn(SessionStore store) {
      for (int i = 0; i < SESSIONS; i++) {
        var s = await(store.get(id(i)));
        long expected = increments.get(i);
        assertThat(s.hasVariable("count") ? ((Number) s.variable("count")).longValue() : 0L)
            .as("acknowledged increments of %s", id(i)).isEqualTo(expected);
        for (int w = 0; w < WRITERS; w++) {
          long reg = lastRegister.get(i * WRITERS + w);
          if (reg > 0) {
            assertThat(((Number) s.variable("reg-" + w)).longValue()).as("register %d of %s", w, id(i))
                .isEqualTo(reg);
          }
        }
      }
    }
  }

  private static String id(int i) {
    return String.format("load-%04d", i);
  }

  private void seed(SessionStore store) {
    for (int i = 0; i < SESSIONS; i++) {
      await(store.create(id(i), 600_000, new JsonObject().put("n", i)));
    }
  }

  @Test
  void aMigrationUnderLoadLosesNoAcknowledgedWriteAndVerifiesClean() throws Exception {
    StoreMigration m = openMigration(newDataDir(), false);
    MigratingSessionStore store = m.store();
    seed(store);
    Load load = new Load(store);
    load.start();
    await(m.start(to("memory", false)));
    awaitBackfill(m);
    long ops = load.finish();
    assertThat(ops).isGreaterThan(0);
    JsonObject v = verified(m);
    assertThat(v.getBoolean("passed")).as(v.encode()).isTrue();
    assertThat(v.getLong("source_count")).isEqualTo((long) SESSIONS);
    assertThat(v.getLong("target_count")).isEqualTo((long) SESSIONS);
    assertThat(m.status().getString("phase")).isEqualTo("verified");
    load.assertAllIn(store.target());
    load.assertAllIn(store.source());

    await(m.cutover());
    await(m.commit()
        .transform(ar -> Future.succeededFuture(ar.failed() ? SnakepitException.from(ar.cause()).errorCode() : null)));
    // Verified before the cutover, after the backfill: the commit is allowed.
    assertThat(m.status().getString("phase")).isEqualTo("committed");
    load.assertAllIn(store);
  }

  @Test
  void aRollbackFromCutoverUnderLoadLosesNothing() throws Exception {
    StoreMigration m = openMigration(newDataDir(), false);
    MigratingSessionStore store = m.store();
    seed(store);
    await(m.start(to("memory", false)));
    awaitBackfill(m);
    await(m.cutover());
    Load load = new Load(store);
    load.start();
    pollUntil("some writes in cutover", Duration.ofSeconds(30), () -> load.increments.get(0) + load.increments.get(1)
        + load.increments.get(2) > 0);
    SessionStore source = store.source();
    await(m.rollback());
    load.finish();
    assertThat(m.status().getString("phase")).isEqualTo("rolled_back");
    assertThat(store.source()).isSameAs(source);
    load.assertAllIn(store);
    load.assertAllIn(source);
  }

  @Test
  void badStepsAreRefusedAndChangeNothing() {
    StoreMigration m = openMigration(newDataDir(), false);
    await(m.store().create("x", 600_000, null));
    SnakepitException unknown = awaitFailure(m.start(new JsonObject().put("to", "nosuch")), ErrorCode.BAD_REQUEST);
    assertThat(unknown.getMessage()).contains("memory", "hazelcast");
    awaitFailure(m.start(new JsonObject()), ErrorCode.BAD_REQUEST);
    awaitFailure(m.start(new JsonObject().put("to", "memory").put("settings", new JsonObject()
        .put("durability", "never"))), ErrorCode.BAD_REQUEST);
    awaitFailure(m.verify(), ErrorCode.CONFLICT);
    awaitFailure(m.cutover(), ErrorCode.CONFLICT);
    awaitFailure(m.commit(), ErrorCode.CONFLICT);
    awaitFailure(m.rollback(), ErrorCode.CONFLICT);
    assertThat(m.status().getString("phase")).isEqualTo("idle");

    await(m.start(to("memory", false)));
    awaitFailure(m.start(to("memory", false)), ErrorCode.CONFLICT);
    awaitBackfill(m);
    awaitFailure(m.commit(), ErrorCode.CONFLICT);
    await(m.cutover());
    // In cutover but never verified: no commit.
    SnakepitException early = awaitFailure(m.commit(), ErrorCode.CONFLICT);
    assertThat(early.getMessage()).contains("verify");
    assertThat(verified(m).getBoolean("passed")).isTrue();
    await(m.commit());
    SnakepitException late = awaitFailure(m.rollback(), ErrorCode.CONFLICT);
    assertThat(late.getMessage()).contains("committed");
    assertThat(m.status().getString("phase")).isEqualTo("committed");
  }

  @Test
  void aCutoverIsRefusedWhileTheBackfillLeftCopiesFailed() {
    StoreMigration m = openMigration(newDataDir(), false);
    await(m.store().create("kept", 600_000, null));
    await(m.store().create("lost-1", 600_000, null));
    await(m.start(new JsonObject().put("to", "test-treemap").put("settings", new JsonObject()
        .put("refuse-merges-of", "lost-"))));
    awaitBackfill(m);
    assertThat(m.status().getJsonObject("backfill").getLong("failed")).isEqualTo(1L);
    // Reading from the target now would answer 404 for "lost-1": the copy must be repaired (or rolled back) first.
    SnakepitException refused = awaitFailure(m.cutover(), ErrorCode.CONFLICT);
    assertThat(refused.getMessage()).contains("1 session", "repair");
    assertThat(m.status().getString("phase")).isEqualTo("backfill");
    await(m.store().get("lost-1"));
    await(m.rollback());
  }

  @Test
  void aRepairMakesEveryDifferenceAVerifyListedTheSame() {
    StoreMigration m = openMigration(newDataDir(), false);
    MigratingSessionStore store = m.store();
    awaitFailure(m.repair(), ErrorCode.CONFLICT);
    for (String id : List.of("s1", "s2", "s3")) {
      await(store.create(id, 600_000, null));
    }
    await(m.start(to("memory", false)));
    awaitBackfill(m);
    // Writes that reached one store only, as failed or never acknowledged writes leave them; and a tombstone in
    // the target of a session the source holds.
    await(store.target().putVariable("s1", "stray", 1));
    await(store.target().delete("s2"));
    await(store.source().putVariable("s3", "late", 1));
    // Two incarnations of one id: an earlier session left live in the target, a new one in the source.
    await(store.source().create("s4", 600_000, null));
    await(store.target().merge(new Session("s4", 1, System.currentTimeMillis(), 600_000, 1, null, null, null, null,
        null, 0).withVariable("old", stamp(store.target(), 1))));
    JsonObject before = verified(m);
    assertThat(before.getLong("differences_count")).as(before.encode()).isEqualTo(4L);

    await(m.repair());
    awaitFailure(m.repair(), ErrorCode.CONFLICT);
    awaitBackfill(m);
    JsonObject after = verified(m);
    assertThat(after.getBoolean("passed")).as(after.encode()).isTrue();
    assertThat(await(store.target().get("s2")).id()).isEqualTo("s2");
    assertThat(await(store.target().get("s3")).variable("late")).isEqualTo(1);
    assertThat(await(store.get("s1")).variable("stray")).isEqualTo(1);
    assertThat(await(store.source().get("s4")).hasVariable("old")).as("the earlier incarnation's variable").isFalse();
    assertThat(await(store.target().get("s4")).hasVariable("old")).as("the earlier incarnation's variable").isFalse();
    assertThat(m.status().getString("phase")).isEqualTo("verified");
    assertThat(store.gatedIds()).isZero();
  }

  @Test
  void verifyAndCutoverAreRefusedUntilTheBackfillIsDone() {
    HeldCall held = HeldCall.answer("list");
    StoreMigration m = openMigration(newDataDir(), false, held::around);
    await(m.store().create("a", 600_000, null));
    await(m.start(to("memory", false)));
    // The backfill has read its first page and cannot finish until the test lets it.
    await(held.holding());
    assertThat(m.status().getJsonObject("backfill").getBoolean("done")).isFalse();
    SnakepitException early = awaitFailure(m.cutover(), ErrorCode.CONFLICT);
    assertThat(early.getMessage()).contains("backfill has not finished");
    awaitFailure(m.verify(), ErrorCode.CONFLICT);
    assertThat(m.status().getString("phase")).isEqualTo("backfill");
    assertThat(m.store().phase()).isEqualTo(MigrationPhase.BACKFILL);
    held.release();
    awaitBackfill(m);
    await(m.cutover());
    assertThat(m.status().getString("phase")).isEqualTo("cutover");
    assertThat(await(m.store().get("a")).id()).isEqualTo("a");
  }

  @Test
  void aRestartedNodeResumesInItsPhaseAndKeepsTheTargetAfterACommit() {
    Path dir = newDataDir();
    StoreMigration m = openMigration(dir, true);
    await(m.store().create("kept", 600_000, null));
    await(m.start(to("memory", true)));
    awaitBackfill(m);
    await(m.cutover());
    await(m.store().putVariable("kept", "x", 1));
    closeMigration(m);

    StoreMigration again = openMigration(dir, true);
    assertThat(again.status().getString("phase")).isEqualTo("cutover");
    assertThat(again.store().phase()).isEqualTo(MigrationPhase.CUTOVER);
    assertThat(await(again.store().target().get("kept")).variable("x")).isEqualTo(1);
    assertThat(await(again.store().source().get("kept")).variable("x")).isEqualTo(1);
    // After a restart the stores are repaired from the start before a verify counts.
    awaitBackfill(again);
    assertThat(verified(again).getBoolean("passed")).isTrue();
    await(again.commit());
    await(again.store().putVariable("kept", "y", 2));
    closeMigration(again);

    StoreMigration third = openMigration(dir, true);
    assertThat(third.store().phase()).isEqualTo(MigrationPhase.COMMITTED);
    assertThat(third.store().source()).isNull();
    assertThat(await(third.store().get("kept")).variable("y")).isEqualTo(2);
  }

  /** Opens the target store a migration in {@code dir} uses, as the node would, to set up what a crash left. */
  private SessionStore openTarget(Path dir, String targetDir) {
    SessionSettings st = new SessionSettings(NODE, new HybridLogicalClock(), limits(), dir.toString(), 200,
        3_600_000);
    return await(new AdapterStores(vertx, st).open("memory", new JsonObject().put("persistence", true), targetDir));
  }

  @Test
  void aNodeThatCrashedDuringTheBackfillRepairsTheTargetFromTheStart() {
    Path dir = newDataDir();
    String targetDir = dir.resolve("migration").resolve("target-1").toString();
    StoreMigration first = openMigration(dir, true);
    SessionStore source = first.store();
    for (int i = 0; i < 50; i++) {
      await(source.create(String.format("r-%02d", i), 600_000, null));
    }
    // What a node leaves when it dies in the backfill: the pages up to "r-26" copied and checkpointed, ...
    SessionStore target = openTarget(dir, targetDir);
    for (int i = 0; i <= 26; i++) {
      await(target.merge(await(source.get(String.format("r-%02d", i)))));
    }
    // ... a write on a page already copied that reached the source but not the target (never acknowledged,
    // yet read from the source), and a delete that did the same.
    await(source.putVariable("r-03", "unacknowledged", 1));
    await(source.delete("r-10"));
    await(target.close());
    closeMigration(first);
    MigrationState crashed = new MigrationState(MigrationPhase.DUAL_WRITE, "memory", null, null, "memory",
        new JsonObject().put("persistence", true), targetDir, 1, 1, new BackfillProgress("r-26", 27, 0, 0, 50, 1, 0),
        null);
    await(new MigrationStateFile(vertx, dir).write(crashed));

    StoreMigration again = openMigration(dir, true);
    awaitBackfill(again);
    assertThat(again.status().getString("phase")).isEqualTo("backfill");
    JsonObject v = verified(again);
    assertThat(v.getBoolean("passed")).as(v.encode()).isTrue();
    assertThat(v.getLong("target_count")).isEqualTo(49L);
    SessionStore resumedTarget = again.store().target();
    assertThat(await(resumedTarget.get("r-03")).variable("unacknowledged")).isEqualTo(1);
    assertThat(await(resumedTarget.exists("r-10"))).isFalse();
    assertThat(await(resumedTarget.exists("r-49"))).isTrue();
  }

  @Test
  void aNodeThatCrashedInCutoverRepairsTheSourceBeforeACommit() {
    Path dir = newDataDir();
    String targetDir = dir.resolve("migration").resolve("target-1").toString();
    StoreMigration first = openMigration(dir, true);
    SessionStore source = first.store();
    SessionStore target = openTarget(dir, targetDir);
    for (String id : List.of("a", "b", "c")) {
      await(source.create(id, 600_000, null));
      await(target.merge(await(source.get(id))));
    }
    // Writes in cutover reach the target first: a crash left one write and one delete in the target alone.
    await(target.putVariable("a", "unacknowledged", 1));
    await(target.delete("b"));
    await(target.close());
    closeMigration(first);
    JsonObject passedBefore = new JsonObject().put("state", "done").put("passed", true).put("at", 3L);
    MigrationState crashed = new MigrationState(MigrationPhase.CUTOVER, "memory", null, null, "memory",
        new JsonObject().put("persistence", true), targetDir, 1, 1, new BackfillProgress(null, 3, 0, 0, 3, 1, 2),
        passedBefore);
    await(new MigrationStateFile(vertx, dir).write(crashed));

    StoreMigration again = openMigration(dir, true);
    assertThat(again.status().getString("phase")).isEqualTo("cutover");
    // The verify from before the crash no longer counts: the stores are repaired, then verified again.
    SnakepitException early = awaitFailure(again.commit(), ErrorCode.CONFLICT);
    assertThat(early.getMessage()).contains("verify");
    awaitBackfill(again);
    JsonObject v = verified(again);
    assertThat(v.getBoolean("passed")).as(v.encode()).isTrue();
    SessionStore resumedSource = again.store().source();
    assertThat(await(resumedSource.get("a")).variable("unacknowledged")).isEqualTo(1);
    assertThat(await(resumedSource.exists("b"))).isFalse();
    // A rollback now neither brings "b" back nor loses what readers saw in "a".
    await(again.rollback());
    assertThat(await(again.store().get("a")).variable("unacknowledged")).isEqualTo(1);
    assertThat(await(again.store().exists("b"))).isFalse();
  }
}
