package io.snakepit.app.security;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The token buckets and the concurrency cap, on a hand-driven clock. */
class RateLimiterTest {

  private final AtomicLong now = new AtomicLong(1_000_000_000L);
  private final Principal alice = new Principal("alice", Role.CALLER, Set.of(), Set.of(), null, "key");
  private final Principal bob = new Principal("bob", Role.CALLER, Set.of(), Set.of(), null, "key");

  private void advanceMs(long ms) {
    now.addAndGet(TimeUnit.MILLISECONDS.toNanos(ms));
  }

  @Test
  void callsPastTheBurstAreRefusedWithTheTimeToWaitAndAllowedOnceItHasPassed() {
    RateLimiter limiter = new RateLimiter(new RateLimitSettings(2, 3, 0, 0, 0), now::get);
    for (int i = 0; i < 3; i++) {
      limiter.admit(RateKind.CALL, alice, null).release();
    }
    assertThatThrownBy(() -> limiter.admit(RateKind.CALL, alice, null))
        .isInstanceOfSatisfying(SnakepitException.class, e -> {
          assertThat(e.errorCode()).isEqualTo(ErrorCode.RATE_LIMITED);
          assertThat(e.details().getString("limit")).isEqualTo("execute-per-s");
          assertThat(e.details().getLong("retry_after_s")).isEqualTo(1L);
        });
    // Every key has its own buckets.
    limiter.admit(RateKind.CALL, bob, null).release();
    advanceMs(500); // one token at 2 a second
    limiter.admit(RateKind.CALL, alice, null).release();
    assertThatThrownBy(() -> limiter.admit(RateKind.CALL, alice, null)).isInstanceOf(SnakepitException.class);
  }

  @Test
  void sessionWritesHaveTheirOwnBucket() {
    RateLimiter limiter = new RateLimiter(new RateLimitSettings(0, 0, 1, 1, 0), now::get);
    limiter.admit(RateKind.WRITE, alice, null);
    assertThatThrownBy(() -> limiter.admit(RateKind.WRITE, alice, null))
        .isInstanceOfSatisfying(SnakepitException.class,
            e -> assertThat(e.details().getString("limit")).isEqualTo("session-writes-per-s"));
    // Calls and reads are not session writes.
    limiter.admit(RateKind.CALL, alice, null).release();
    limiter.admit(RateKind.NONE, alice, null).release();
  }

  @Test
  void concurrentCallsAreCappedUntilOneEnds() {
    RateLimiter limiter = new RateLimiter(new RateLimitSettings(0, 0, 0, 0, 2), now::get);
    RateLimiter.Permit a = limiter.admit(RateKind.CALL, alice, null);
    RateLimiter.Permit b = limiter.admit(RateKind.CALL, alice, null);
    assertThatThrownBy(() -> limiter.admit(RateKind.CALL, alice, null))
        .isInstanceOfSatisfying(SnakepitException.class,
            e -> assertThat(e.details().getString("limit")).isEqualTo("concurrent-calls"));
    a.release();
    a.release(); // a second release of one permit frees nothing more
    RateLimiter.Permit c = limiter.admit(RateKind.CALL, alice, null);
    assertThatThrownBy(() -> limiter.admit(RateKind.CALL, alice, null)).isInstanceOf(SnakepitException.class);
    b.release();
    c.release();
  }

  @Test
  void aKeysOwnLimitsReplaceTheNodesAndWithoutKeysTheAddressIsTheAccount() {
    RateLimiter limiter = new RateLimiter(new RateLimitSettings(0.001, 1, 0, 0, 0), now::get);
    Principal unlimited = new Principal("batch", Role.CALLER, Set.of(), Set.of(), RateLimitSettings.NONE, "key");
    for (int i = 0; i < 10; i++) {
      limiter.admit(RateKind.CALL, unlimited, null).release();
    }
    limiter.admit(RateKind.CALL, Principal.ANONYMOUS, "10.0.0.1").release();
    limiter.admit(RateKind.CALL, Principal.ANONYMOUS, "10.0.0.2").release();
    assertThatThrownBy(() -> limiter.admit(RateKind.CALL, Principal.ANONYMOUS, "10.0.0.1"))
        .isInstanceOf(SnakepitException.class);
  }

  @Test
  void idleAccountsAreForgotten() {
    RateLimiter limiter = new RateLimiter(new RateLimitSettings(1, 1, 0, 0, 1), now::get);
    RateLimiter.Permit held = limiter.admit(RateKind.CALL, alice, null);
    limiter.admit(RateKind.CALL, bob, null).release();
    advanceMs(TimeUnit.MINUTES.toMillis(11));
    limiter.forgetIdle();
    assertThat(limiter.accounts()).isEqualTo(1); // alice still runs a call
    held.release();
    limiter.forgetIdle();
    assertThat(limiter.accounts()).isZero();
  }
}
