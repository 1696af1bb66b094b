package io.snakepit.session.migration;

import io.vertx.core.json.JsonObject;

/**
 * How far the backfill (or a {@link StoreRepair}) has come, persisted after every page for the status. A node
 * restarted mid-migration does not resume after the cursor: a write the crash caught between the stores may sit
 * on a page already copied, so it repairs both stores from the start instead.
 *
 * @param cursor     the source's cursor after the last finished page; null before the first, and for a repair
 * @param copied     sessions merged into the target; for a repair, sessions compared (and repaired if need be)
 * @param gone       sessions deleted, expired, or deleted and created again between listing and copying
 * @param failed     sessions the target refused (see the log); a verify lists them
 * @param total      the source's count when the backfill started, for the time left
 * @param startedAt  when the backfill first started, epoch ms; 0 before
 * @param finishedAt when it finished, epoch ms; 0 while it runs
 */
public record BackfillProgress(String cursor, long copied, long gone, long failed, long total, long startedAt,
                               long finishedAt) {

  /** Nothing copied yet. */
  public static final BackfillProgress NONE = new BackfillProgress(null, 0, 0, 0, 0, 0, 0);

  /** Whether every page has been copied. */
  public boolean done() {
    return finishedAt > 0;
  }

  public JsonObject toJson() {
    return new JsonObject().put("cursor", cursor).put("copied", copied).put("gone", gone).put("failed", failed)
        .put("total", total).put("started_at", startedAt).put("finished_at", finishedAt).put("done", done());
  }

  public static BackfillProgress fromJson(JsonObject j) {
    if (j == null) {
      return NONE;
    }
    return new BackfillProgress(j.getString("cursor"), j.getLong("copied", 0L), j.getLong("gone", 0L),
        j.getLong("failed", 0L), j.getLong("total", 0L), j.getLong("started_at", 0L), j.getLong("finished_at", 0L));
  }

  /** Sessions dealt with (copied, gone or failed) so far. */
  long dealtWith() {
    return copied + gone + failed;
  }

  /** Sessions per second since a run started at {@code startedNanos} ({@link System#nanoTime}) from {@code before}. */
  double rate(long startedNanos, long before) {
    double s = (System.nanoTime() - startedNanos) / 1e9;
    return s <= 0 ? 0 : (dealtWith() - before) / s;
  }
}
