package io.snakepit.session.migration;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.snakepit.session.Session;
import io.snakepit.session.SessionStore;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.Iterator;
import java.util.List;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The background copy of every session from the source into the target, in constant memory: one page of the
 * source at a time ({@link SessionStore#list}), each session merged into the target with at most
 * {@code concurrency} merges in flight, the progress checkpointed after each page. The copy is a merge, so a
 * copy older than what a dual write has put in the target meanwhile changes nothing there; and it goes through
 * the {@link MigratingSessionStore} ({@link MigratingSessionStore#copyListed}), which keeps it from mixing a
 * listed copy of a session deleted and created again since into the new one.
 */
final class Backfill implements SessionCopy {

  private static final Logger LOG = LoggerFactory.getLogger(Backfill.class);
  /**
   * The pauses before each retry of a copy that failed for a reason that may pass (the target store unavailable
   * for a moment: a member of a Hazelcast target lost and its backups not yet promoted, a lease being confirmed),
   * about 11 s in all: longer than Hazelcast's failure detection in config/cluster.xml (5 s) and than the fencing
   * lease (2.5 s). Once they are spent, the copy counts as failed, which the verify then lists and a repair fixes.
   */
  static final long[] RETRY_PAUSES_MS = {0, 50, 100, 200, 400, 800, 1600, 2000, 2000, 2000, 2000};
  static final int MERGE_ATTEMPTS = RETRY_PAUSES_MS.length + 1;

  private final MigratingSessionStore store;
  private final int pageSize;
  private final int concurrency;
  private final Function<BackfillProgress, Future<Void>> checkpoint;
  /** Completes after the given milliseconds: the pause before a retry. */
  private final Function<Long, Future<Void>> pause;
  private volatile BackfillProgress progress;
  private volatile boolean stopped;
  /** Sessions copied by this run and when it began, for the rate: a resumed run's earlier pages do not count. */
  private final long runStartedNanos = System.nanoTime();
  private final long runStartCopied;

  /**
   * @param from       where to resume ({@link BackfillProgress#NONE} for the start); only sound when no write can
   *                   have been left in one store alone since (not after a crash: see {@link StoreRepair})
   * @param checkpoint persists the progress; the next page waits for it
   */
  Backfill(MigratingSessionStore store, int pageSize, int concurrency, BackfillProgress from,
           Function<BackfillProgress, Future<Void>> checkpoint) {
    this(store, pageSize, concurrency, from, checkpoint, Backfill::sleep);
  }

  /** As above, with the pause before a retry on a timer of the caller's (a Vert.x timer, on a node). */
  Backfill(MigratingSessionStore store, int pageSize, int concurrency, BackfillProgress from,
           Function<BackfillProgress, Future<Void>> checkpoint, Function<Long, Future<Void>> pause) {
    this.pause = pause;
    this.store = store;
    this.pageSize = pageSize;
    this.concurrency = concurrency;
    this.progress = from;
    this.checkpoint = checkpoint;
    this.runStartCopied = from.dealtWith();
  }

  @Override
  public BackfillProgress progress() {
    return progress;
  }

  /** Sessions per second in this run. */
  @Override
  public double rate() {
    return progress.rate(runStartedNanos, runStartCopied);
  }

  /** Stops after the page in progress; {@link #run}'s future then fails with {@code conflict}. */
  @Override
  public void stop() {
    stopped = true;
  }

  /** Copies every page from the progress' cursor on; completes with the final progress. */
  @Override
  public Future<BackfillProgress> run() {
    Future<Long> total = progress.startedAt() > 0 ? Future.succeededFuture(progress.total()) : store.count();
    return total.compose(n -> {
      BackfillProgress p = progress;
      progress = new BackfillProgress(p.cursor(), p.copied(), p.gone(), p.failed(), n,
          p.startedAt() > 0 ? p.startedAt() : System.currentTimeMillis(), 0);
      return checkpoint.apply(progress);
    }).compose(v -> page()).andThen(ar -> store.listingsEnd());
  }

  private Future<BackfillProgress> page() {
    if (stopped) {
      return Future.failedFuture(new SnakepitException(ErrorCode.CONFLICT, "The backfill was stopped."));
    }
    long listedAt = store.listingStarts();
    return store.list(progress.cursor(), pageSize).compose(p -> copyAll(p.sessions(), listedAt).compose(v -> {
      BackfillProgress b = progress;
      long finished = p.nextCursor() == null ? System.currentTimeMillis() : 0;
      progress = new BackfillProgress(p.nextCursor() == null ? b.cursor() : p.nextCursor(), b.copied(), b.gone(),
          b.failed(), b.total(), b.startedAt(), finished);
      return checkpoint.apply(progress);
    }).compose(v -> progress.done() ? Future.succeededFuture(progress) : page()));
  }

  private Future<Void> copyAll(List<Session> sessions, long listedAt) {
    Iterator<Session> it = sessions.iterator();
    Promise<Void> all = Promise.promise();
    int[] running = {Math.min(concurrency, sessions.size())};
    if (running[0] == 0) {
      return Future.succeededFuture();
    }
    for (int i = 0, n = running[0]; i < n; i++) {
      copyNext(it, listedAt, () -> {
        synchronized (running) {
          if (--running[0] == 0) {
            all.complete();
          }
        }
      });
    }
    return all.future();
  }

  private void copyNext(Iterator<Session> it, long listedAt, Runnable finished) {
    Session s;
    synchronized (it) {
      if (!it.hasNext()) {
        finished.run();
        return;
      }
      s = it.next();
    }
    copy(s, listedAt, 1).onComplete(ar -> copyNext(it, listedAt, finished));
  }

  private Future<Void> copy(Session s, long listedAt, int attempt) {
    return store.copyListed(s, listedAt).<Void>map(copied -> {
      // Skipped: created or deleted again since the listing, and so carried by the dual writes.
      count(copied ? 1 : 0, copied ? 0 : 1, 0);
      return null;
    }).recover(e -> {
      ErrorCode code = SnakepitException.from(e).errorCode();
      if (code == ErrorCode.SESSION_NOT_FOUND) {
        count(0, 1, 0);
        return Future.succeededFuture();
      }
      // Refused for good (or the migration left the phases that copy): no retry. Else a retry after a pause, so
      // that a target unavailable for some seconds (a member lost) does not leave failed copies behind.
      boolean lasting = code == ErrorCode.LIMIT_EXCEEDED || code == ErrorCode.BAD_REQUEST
          || code == ErrorCode.CONFLICT;
      if (attempt < MERGE_ATTEMPTS && !lasting && !stopped) {
        long ms = RETRY_PAUSES_MS[attempt - 1];
        LOG.debug("Migration backfill retries session '{}' in {} ms (attempt {}): {}", s.id(), ms, attempt + 1,
            e.getMessage());
        return pause.apply(ms).compose(v -> copy(s, listedAt, attempt + 1));
      }
      LOG.warn("Migration backfill could not copy session '{}' into the {} store after {} attempts: {}", s.id(),
          store.target() == null ? "target" : store.target().name(), attempt, e.getMessage());
      count(0, 0, 1);
      return Future.succeededFuture();
    });
  }

  /** A pause on no timer of Vert.x's, for a backfill made without one (tests). */
  static Future<Void> sleep(long ms) {
    if (ms <= 0) {
      return Future.succeededFuture();
    }
    Promise<Void> p = Promise.promise();
    java.util.concurrent.CompletableFuture.delayedExecutor(ms, java.util.concurrent.TimeUnit.MILLISECONDS)
        .execute(p::complete);
    return p.future();
  }

  private synchronized void count(long copied, long gone, long failed) {
    BackfillProgress b = progress;
    progress = new BackfillProgress(b.cursor(), b.copied() + copied, b.gone() + gone, b.failed() + failed,
        b.total(), b.startedAt(), b.finishedAt());
  }
}
