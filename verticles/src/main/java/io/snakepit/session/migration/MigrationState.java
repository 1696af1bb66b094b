package io.snakepit.session.migration;

import io.vertx.core.json.JsonObject;

/**
 * What a node remembers of its migration, in {@code <data-dir>/migration/state.json} ({@link MigrationStateFile}),
 * so that after a restart it rebuilds the stores in the same phase; and, once committed, keeps using the target
 * whatever {@code sessions.adapter} says.
 *
 * @param phase          the phase
 * @param source         the adapter migrated from
 * @param sourceSettings the source adapter's section when it is not the configured store (a migration started
 *                       after an earlier one was committed); null for the configured store
 * @param sourceDataDir  the data directory the source store was made with, when not the configured store
 * @param target         the adapter migrated to
 * @param targetSettings the target adapter's section, as {@code start} gave it
 * @param targetDataDir  the data directory the target store was made with
 * @param startedAt      when the migration started, epoch ms
 * @param changedAt      when the phase last changed, epoch ms
 * @param backfill       the backfill's progress
 * @param verify         the last verify's result ({@link StoreComparison}); null before the first
 */
public record MigrationState(MigrationPhase phase, String source, JsonObject sourceSettings,
                             String sourceDataDir, String target, JsonObject targetSettings,
                             String targetDataDir, long startedAt, long changedAt, BackfillProgress backfill,
                             JsonObject verify) {

  /** This state in another phase. */
  public MigrationState withPhase(MigrationPhase p) {
    return new MigrationState(p, source, sourceSettings, sourceDataDir, target, targetSettings, targetDataDir, startedAt,
        System.currentTimeMillis(), backfill, verify);
  }

  public MigrationState withBackfill(BackfillProgress b) {
    return new MigrationState(phase, source, sourceSettings, sourceDataDir, target, targetSettings, targetDataDir, startedAt, changedAt, b, verify);
  }

  public MigrationState withVerify(JsonObject v) {
    return new MigrationState(phase, source, sourceSettings, sourceDataDir, target, targetSettings, targetDataDir, startedAt, changedAt, backfill,
        v);
  }

  /** Whether the last verify passed after the backfill had finished. */
  public boolean verifiedAfterBackfill() {
    return verify != null && verify.getBoolean("passed", false) && backfill.done()
        && verify.getLong("at", 0L) >= backfill.finishedAt();
  }

  public JsonObject toJson() {
    return new JsonObject().put("phase", phase.wireName()).put("source", source).put("source_settings", sourceSettings)
        .put("source_data_dir", sourceDataDir).put("target", target)
        .put("target_settings", targetSettings).put("target_data_dir", targetDataDir).put("started_at", startedAt)
        .put("changed_at", changedAt).put("backfill", backfill.toJson()).put("verify", verify);
  }

  /** Reads {@link #toJson()}'s form; {@link IllegalArgumentException} when it is not that. */
  public static MigrationState fromJson(JsonObject j) {
    try {
      return new MigrationState(MigrationPhase.fromWire(j.getString("phase")), j.getString("source"),
          j.getJsonObject("source_settings"), j.getString("source_data_dir"),
          j.getString("target"), j.getJsonObject("target_settings", new JsonObject()),
          j.getString("target_data_dir"), j.getLong("started_at", 0L), j.getLong("changed_at", 0L),
          BackfillProgress.fromJson(j.getJsonObject("backfill")), j.getJsonObject("verify"));
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("not a migration state: " + e.getMessage(), e);
    }
  }
}
