package io.snakepit.session.migration;

/**
 * Where a live migration between two session stores stands (docs/migration.md). The phase decides where reads
 * go and in which order writes reach the two stores; see {@link MigratingSessionStore}.
 */
public enum MigrationPhase {
  /** No migration has run on this node: the configured store alone. */
  IDLE,
  /** Every write goes to the source, then to the target; reads come from the source. */
  DUAL_WRITE,
  /** As {@link #DUAL_WRITE}, while the background copy of every session runs (or has run). */
  BACKFILL,
  /** As {@link #DUAL_WRITE}; the copy is done and the last verify found no difference. */
  VERIFIED,
  /** Reads come from the target; every write goes to the target, then to the source, so a rollback loses nothing. */
  CUTOVER,
  /** The target alone; the source is closed. */
  COMMITTED,
  /** The source alone; the target is closed and left as it was. */
  ROLLED_BACK;

  /** Whether reads come from the source. */
  boolean readsSource() {
    return this != CUTOVER && this != COMMITTED;
  }

  /** Whether every write reaches both stores. */
  boolean mirrors() {
    return this == DUAL_WRITE || this == BACKFILL || this == VERIFIED || this == CUTOVER;
  }

  /** Whether a migration is under way: it can be rolled back, and another cannot start. */
  public boolean inProgress() {
    return mirrors();
  }

  /** The wire name: lower case ({@code dual_write}). */
  public String wireName() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }

  /** Reads {@link #wireName()}. */
  public static MigrationPhase fromWire(String s) {
    return valueOf(s.toUpperCase(java.util.Locale.ROOT));
  }
}
