package io.snakepit.session.fencing;

import io.vertx.core.Vertx;
import io.vertx.core.shareddata.Shareable;
import java.util.Collection;
import java.util.HashSet;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * Whether this node may still act as the owner of its sessions: the fencing
 * lease that keeps a node that was paused (SIGSTOP, a long GC, a stalled VM)
 * from acknowledging a write after the cluster has dropped it.
 *
 * <p>The cluster drops a member it has not heard from for its failure
 * detector's timeout; the paused member, when it wakes, still believes it
 * owns its partitions, and a write applied there would be acknowledged and
 * later lost. The lease turns the pause into elapsed time on the monotonic
 * clock: a keeper {@link #tick ticks} it every fraction of {@code leaseNanos};
 * a gap longer than {@code leaseNanos} between ticks (or between the last
 * tick and a check) voids it. {@code leaseNanos} is shorter than the failure
 * detector's timeout, so a node is fenced before anyone can have dropped it.
 *
 * <p>A voided lease is <em>suspect</em> and is held again only once the
 * cluster has answered: every member the node now sees, at least one of them
 * a member it saw before the pause, confirmed in a round trip that began
 * after the pause that it still counts this node as a member
 * ({@link #confirmed}). A member that dropped the node refuses that round
 * trip, so the node stays fenced until it has rejoined. If no member it knew
 * comes back within {@code rejoinNanos} (they are gone, or a partition began
 * during the pause), the node holds its lease again on its own side, as any
 * side of a partition does.
 *
 * <p>Each void starts a new {@link #epoch}. A write records the epoch when it
 * begins and is acknowledged only if {@link #heldSince} that epoch: a pause
 * during the write (after the store applied it, before its backups took it)
 * makes its outcome unknown instead of acknowledged.
 *
 * <p>With {@code partition-mode: majority} a write or call must also not be
 * acknowledged across a change of which members this node sees: a member that
 * drops out of its view may be a partition starting, and in a partial
 * ("bridge") partition a node briefly counts a majority that is not one, while
 * Hazelcast completes a write once the member its backup waited for is gone.
 * {@link #watchDepartures} makes each departure a new epoch too, read at the
 * moment of the check, so that such a write's outcome is unknown, not
 * acknowledged.
 *
 * <p>Thread-safe; checked from Hazelcast's partition threads and from event
 * loops. Shared between a node's verticles through {@link #of(Vertx)}.
 */
public final class OwnershipLease implements Shareable {

  /** The lease of a node that has no cluster to be dropped from: always held. */
  public static final OwnershipLease ALWAYS = new OwnershipLease(Long.MAX_VALUE / 4, Long.MAX_VALUE / 4,
      System::nanoTime);

  private static final String MAP = "snakepit.fencing";
  private static final String KEY = "lease";

  private final long leaseNanos;
  private final long rejoinNanos;
  private final LongSupplier clock;
  private volatile long lastTick;
  private volatile boolean suspect;
  private volatile long epoch;
  private long suspectSince;
  /** The members (other than this node) seen while the lease was last held. */
  private Set<String> knownMembers = Set.of();
  /** How many times a member left this node's view, read when asked; none unless {@link #watchDepartures}. */
  private volatile LongSupplier departures = () -> 0;

  /**
   * @param leaseNanos  the longest gap between ticks that keeps the lease; shorter than failure detection
   * @param rejoinNanos how long a suspect lease waits for a member it knew before it is held on its own side
   * @param clock       a monotonic clock in nanoseconds ({@link System#nanoTime} outside tests)
   */
  public OwnershipLease(long leaseNanos, long rejoinNanos, LongSupplier clock) {
    if (leaseNanos <= 0 || rejoinNanos <= 0) {
      throw new IllegalArgumentException("lease and rejoin times must be positive");
    }
    this.leaseNanos = leaseNanos;
    this.rejoinNanos = rejoinNanos;
    this.clock = clock;
    this.lastTick = clock.getAsLong();
  }

  /** The lease of the node that {@code vertx} runs, or {@link #ALWAYS} when none was published. */
  public static OwnershipLease of(Vertx vertx) {
    Object lease = vertx.sharedData().getLocalMap(MAP).get(KEY);
    return lease instanceof OwnershipLease l ? l : ALWAYS;
  }

  /**
   * Makes this the lease that {@link #of(Vertx)} returns on this node, until unpublished; each store that uses
   * the lease publishes it once ({@link io.snakepit.routing.LocalPublication}).
   */
  public void publish(Vertx vertx) {
    io.snakepit.routing.LocalPublication.publish(vertx, MAP, KEY, this);
  }

  /** Withdraws one publication of this lease: the node keeps it while another store still uses it. */
  public void unpublish(Vertx vertx) {
    io.snakepit.routing.LocalPublication.withdraw(vertx, MAP, KEY, this);
  }

  /** Whether the lease is held now: not suspect, and ticked within the lease time. */
  public boolean held() {
    return !suspect && clock.getAsLong() - lastTick <= leaseNanos;
  }

  /**
   * The current epoch; it grows each time the lease is voided and, once {@link #watchDepartures} is set, each time
   * a member leaves this node's view.
   */
  public long epoch() {
    return epoch + departures.getAsLong();
  }

  /** Whether the lease is held now and has been without a break since {@code epoch} was read. */
  public boolean heldSince(long epoch) {
    return held() && epoch() == epoch;
  }

  /**
   * Makes every departure of a member a new epoch ({@code partition-mode: majority}): {@code departures} counts
   * the members that left this node's view so far, never decreasing, and is read at every {@link #epoch} and
   * {@link #heldSince}, so that a write that a departure completed sees it.
   */
  public void watchDepartures(LongSupplier departures) {
    this.departures = departures;
  }

  /** Whether the lease is suspect and waits for the cluster's confirmation. */
  public boolean suspect() {
    return suspect;
  }

  /**
   * The keeper's periodic tick, with the members (other than this node) it
   * sees now. A gap since the last tick longer than the lease voids it.
   *
   * @return true if this tick voided the lease
   */
  public synchronized boolean tick(Collection<String> members) {
    long now = clock.getAsLong();
    boolean voided = false;
    if (!suspect && now - lastTick > leaseNanos) {
      suspect = true;
      suspectSince = now;
      epoch++;
      voided = true;
    }
    if (!suspect) {
      knownMembers = Set.copyOf(members);
      lastTick = now;
    }
    return voided;
  }

  /**
   * A confirmation round of a suspect lease has ended: it began at
   * {@code startedAt} (this clock) and every one of {@code members} answered
   * that it counts this node as a member. Holds the lease again if one of
   * them is a member known before the pause, or if none was known, or once
   * the rejoin time has passed.
   *
   * @return true if the lease is held again
   */
  public synchronized boolean confirmed(long startedAt, Collection<String> members) {
    if (!suspect || startedAt - suspectSince < 0) {
      return !suspect;
    }
    Set<String> both = new HashSet<>(members);
    both.retainAll(knownMembers);
    if (!both.isEmpty() || knownMembers.isEmpty() || clock.getAsLong() - suspectSince >= rejoinNanos) {
      suspect = false;
      knownMembers = Set.copyOf(members);
      // From the round's start: a pause during the round shows as elapsed time on the next check.
      lastTick = startedAt;
      return true;
    }
    return false;
  }

  /** Voids the lease now, as a pause would (for tests and for an operator's fence). */
  public synchronized void voidNow() {
    if (!suspect) {
      suspect = true;
      suspectSince = clock.getAsLong();
      epoch++;
    }
  }

  /** The clock's time now, for {@link #confirmed}'s {@code startedAt}. */
  public long now() {
    return clock.getAsLong();
  }

  @Override
  public String toString() {
    return "OwnershipLease{" + (suspect ? "suspect" : held() ? "held" : "lapsed") + ", epoch " + epoch + "}";
  }
}
