package io.snakepit.session.fencing;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The lease on a hand-driven clock: what voids it, what holds it again, and the epochs writes carry. */
class OwnershipLeaseTest {

  static final long MS = 1_000_000;
  final AtomicLong clock = new AtomicLong(1_000 * MS);
  final OwnershipLease lease = new OwnershipLease(2_500 * MS, 30_000 * MS, clock::get);

  void advance(long ms) {
    clock.addAndGet(ms * MS);
  }

  /** Ticks every 250 ms for {@code ms}, seeing {@code members}. */
  void run(long ms, List<String> members) {
    for (long t = 0; t < ms; t += 250) {
      advance(250);
      lease.tick(members);
    }
  }

  @Test
  void regularTicksKeepTheLeaseAndItsEpoch() {
    long epoch = lease.epoch();
    run(60_000, List.of("n2", "n3"));
    assertThat(lease.held()).isTrue();
    assertThat(lease.heldSince(epoch)).isTrue();
  }

  @Test
  void aPauseLongerThanTheLeaseVoidsItBeforeAnyTick() {
    run(1_000, List.of("n2", "n3"));
    advance(2_501);
    // A write checked right after the wake, before the keeper's thread ran: refused on elapsed time alone.
    assertThat(lease.held()).isFalse();
    long epoch = lease.epoch();
    assertThat(lease.tick(List.of("n2", "n3"))).isTrue();
    assertThat(lease.suspect()).isTrue();
    assertThat(lease.epoch()).isEqualTo(epoch + 1);
  }

  @Test
  void aPauseShorterThanTheLeaseChangesNothing() {
    run(1_000, List.of("n2"));
    long epoch = lease.epoch();
    advance(2_400);
    assertThat(lease.tick(List.of("n2"))).isFalse();
    assertThat(lease.heldSince(epoch)).isTrue();
  }

  @Test
  void withDeparturesWatchedAMemberLeavingEndsTheEpochButNotTheLease() {
    AtomicLong departures = new AtomicLong();
    lease.watchDepartures(departures::get);
    run(1_000, List.of("n2", "n3"));
    long atWriteStart = lease.epoch();
    departures.incrementAndGet(); // n3 left this node's view while the write ran
    assertThat(lease.held()).isTrue();
    assertThat(lease.heldSince(atWriteStart)).isFalse();
    long next = lease.epoch();
    run(1_000, List.of("n2"));
    assertThat(lease.heldSince(next)).isTrue();
  }

  @Test
  void aWriteThatSpansAPauseIsNotHeldSinceItsEpochEvenOnceTheLeaseIsBack() {
    run(1_000, List.of("n2", "n3"));
    long atWriteStart = lease.epoch();
    advance(10_000);
    lease.tick(List.of("n2", "n3"));
    long round = lease.now();
    assertThat(lease.confirmed(round, List.of("n2", "n3"))).isTrue();
    assertThat(lease.held()).isTrue();
    assertThat(lease.heldSince(atWriteStart)).isFalse();
  }

  @Test
  void aSuspectLeaseIsNotHeldAgainByTheMembersItDroppedAfterThePause() {
    run(1_000, List.of("n2", "n3"));
    advance(8_000);
    lease.tick(List.of("n2", "n3"));
    // After the wake, Hazelcast on this node suspects everyone else and stands alone: a round with nobody to
    // ask must not count, or the paused node would serve its stale copies as a side of its own.
    run(5_000, List.of());
    assertThat(lease.confirmed(lease.now(), List.of())).isFalse();
    assertThat(lease.held()).isFalse();
    // The merge brings it back among the members it knew: confirmed by them.
    assertThat(lease.confirmed(lease.now(), List.of("n2", "n3"))).isTrue();
    assertThat(lease.held()).isTrue();
  }

  @Test
  void aRoundThatBeganBeforeThePauseWasNoticedDoesNotCount() {
    run(1_000, List.of("n2"));
    long before = lease.now();
    advance(5_000);
    lease.tick(List.of("n2"));
    assertThat(lease.confirmed(before, List.of("n2"))).isFalse();
    assertThat(lease.suspect()).isTrue();
  }

  @Test
  void aPauseDuringTheConfirmingRoundShowsAsElapsedTime() {
    run(1_000, List.of("n2"));
    advance(5_000);
    lease.tick(List.of("n2"));
    long round = lease.now();
    advance(3_000); // paused again while the probes were out
    assertThat(lease.confirmed(round, List.of("n2"))).isTrue();
    assertThat(lease.held()).isFalse();
  }

  @Test
  void withNoMemberKnownBeforeThePauseTheNodeHoldsItsLeaseAtOnce() {
    run(1_000, List.of());
    advance(10_000);
    lease.tick(List.of());
    assertThat(lease.confirmed(lease.now(), List.of())).isTrue();
    assertThat(lease.held()).isTrue();
  }

  @Test
  void afterTheRejoinTimeTheNodeServesOnItsOwnSide() {
    run(1_000, List.of("n2", "n3"));
    advance(5_000);
    lease.tick(List.of("n2", "n3"));
    run(29_000, List.of());
    assertThat(lease.confirmed(lease.now(), List.of())).isFalse();
    run(1_250, List.of());
    assertThat(lease.confirmed(lease.now(), List.of())).isTrue();
    assertThat(lease.held()).isTrue();
  }

  @Test
  void membersSeenLeavingWhileTheLeaseIsHeldAreForgotten() {
    run(1_000, List.of("n2", "n3"));
    run(1_000, List.of("n3")); // n2 left while this node ran: a membership change, not a pause
    advance(5_000);
    lease.tick(List.of("n3"));
    assertThat(lease.confirmed(lease.now(), List.of("n2"))).isFalse();
    assertThat(lease.confirmed(lease.now(), Set.of("n3", "n4"))).isTrue();
  }

  @Test
  void alwaysIsAlwaysHeld() {
    assertThat(OwnershipLease.ALWAYS.held()).isTrue();
    assertThat(OwnershipLease.ALWAYS.heldSince(OwnershipLease.ALWAYS.epoch())).isTrue();
  }
}
