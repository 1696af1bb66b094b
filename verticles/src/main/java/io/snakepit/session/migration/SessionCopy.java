package io.snakepit.session.migration;

import io.vertx.core.Future;

/**
 * A background pass that makes the store not answering reads hold every session of the one that does: the
 * {@link Backfill} at a migration's start, the {@link StoreRepair} after a restart. The migration's status shows
 * its progress as {@code backfill}; verify, cutover and commit wait for it.
 */
interface SessionCopy {

  /** Copies to the end; completes with the final progress, or fails with {@code conflict} once stopped. */
  Future<BackfillProgress> run();

  /** How far it has come. */
  BackfillProgress progress();

  /** Sessions per second in this run. */
  double rate();

  /** Stops after the step in progress. */
  void stop();
}
