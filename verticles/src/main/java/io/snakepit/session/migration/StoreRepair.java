package io.snakepit.session.migration;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.snakepit.session.Session;
import io.snakepit.session.SessionStore;
import io.vertx.core.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pass a node makes after a restart in the middle of a migration, in place of resuming the backfill where
 * it stopped: a write that reached one store but not the other before a crash was never acknowledged, yet the
 * store that answers reads may show it, and it may sit on a page the backfill had already passed. So this pass
 * pages through both stores in id order side by side, from the start, in constant memory (one page of each),
 * and makes the store that does not answer reads hold what the one that does holds, id by id through
 * {@link MigratingSessionStore#repair}: it copies what is missing, deletes what the reading store no longer has,
 * and merges what differs both ways. Its cost: both stores read in full once more after every restart, and a
 * write for every session the crash left behind (all those the backfill had not reached yet).
 *
 * <p>The progress is checkpointed only when the pass ends: a node restarted again starts it again from the
 * beginning, which is what makes it sound.
 */
final class StoreRepair implements SessionCopy {

  private static final Logger LOG = LoggerFactory.getLogger(StoreRepair.class);

  private final MigratingSessionStore store;
  private final int pageSize;
  private final Function<BackfillProgress, Future<Void>> checkpoint;
  private volatile BackfillProgress progress = BackfillProgress.NONE;
  private volatile boolean stopped;
  private final long runStartedNanos = System.nanoTime();
  private PagedSessions reading;
  private PagedSessions other;
  private long forgotten;
  private final AtomicLong repaired = new AtomicLong();

  /** @param checkpoint persists the progress; called when the pass starts and when it ends */
  StoreRepair(MigratingSessionStore store, int pageSize, Function<BackfillProgress, Future<Void>> checkpoint) {
    this.store = store;
    this.pageSize = pageSize;
    this.checkpoint = checkpoint;
  }

  @Override
  public BackfillProgress progress() {
    return progress;
  }

  @Override
  public double rate() {
    return progress.rate(runStartedNanos, 0);
  }

  /** How many sessions it wrote to (the others were the same in both stores already, or changed since). */
  long repaired() {
    return repaired.get();
  }

  @Override
  public void stop() {
    stopped = true;
  }

  @Override
  public Future<BackfillProgress> run() {
    SessionStore first = store.readingStore();
    SessionStore second = store.phase().readsSource() ? store.target() : store.source();
    reading = new PagedSessions(first, pageSize, store::changeMark);
    other = new PagedSessions(second, pageSize, store::changeMark);
    return first.count().compose(n -> {
      progress = new BackfillProgress(null, 0, 0, 0, n, System.currentTimeMillis(), 0);
      return checkpoint.apply(progress);
    }).compose(v -> step()).compose(v -> {
      BackfillProgress p = progress;
      progress = new BackfillProgress(null, p.copied(), p.gone(), p.failed(), p.total(), p.startedAt(),
          System.currentTimeMillis());
      return checkpoint.apply(progress).map(progress);
    }).andThen(ar -> store.listingsEnd());
  }

  private Future<Void> step() {
    return PagedSessions.sideBySide(reading, other, (s, t) -> {
      if (stopped) {
        return Future.failedFuture(new SnakepitException(ErrorCode.CONFLICT, "The repair was stopped."));
      }
      // A copy may be stale from the earlier of the two pages' listings on.
      long listedAt = Math.min(reading.mark(), other.mark());
      if (listedAt > forgotten) {
        store.forgetChangesUpTo(listedAt);
        forgotten = listedAt;
      }
      String id = s != null ? s.id() : t.id();
      Future<Boolean> f = store.repair(id, s, t, listedAt);
      return f.transform(ar -> {
        if (ar.succeeded()) {
          count(1, 0, 0);
          if (ar.result()) {
            repaired.incrementAndGet();
          }
        } else {
          LOG.warn("Migration repair could not repair session '{}': {}", id, ar.cause().getMessage());
          count(0, 0, 1);
        }
        return Future.succeededFuture();
      });
    });
  }

  private synchronized void count(long done, long gone, long failed) {
    BackfillProgress b = progress;
    progress = new BackfillProgress(null, b.copied() + done, b.gone() + gone, b.failed() + failed, b.total(),
        b.startedAt(), b.finishedAt());
  }
}
