package io.snakepit.app.security;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.json.JsonObject;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * This node's rate limits, per key (or per client address when the node has no keys): a token bucket for calls,
 * one for session writes, and a count of the calls running at once. The limits are per node, not per cluster:
 * a client spreading its calls over three nodes gets three times the rate (docs/security.md says so).
 */
public final class RateLimiter {

  /** Keys idle this long are forgotten, so a scan from many addresses cannot grow the table for ever. */
  private static final long IDLE_NANOS = TimeUnit.MINUTES.toNanos(10);

  private final RateLimitSettings defaults;
  private final LongSupplier nanoClock;
  private final ConcurrentHashMap<String, Account> accounts = new ConcurrentHashMap<>();

  public RateLimiter(RateLimitSettings defaults) {
    this(defaults, System::nanoTime);
  }

  RateLimiter(RateLimitSettings defaults, LongSupplier nanoClock) {
    this.defaults = defaults;
    this.nanoClock = nanoClock;
  }

  /** A call that was let in; {@link #release()} it once it has ended, whatever the outcome. */
  public interface Permit {
    void release();
  }

  /** What an admission that counts nothing holds: releasing it does nothing. */
  public static final Permit NOTHING_HELD = () -> { };

  /**
   * Lets in what an operation of kind {@code kind} counts against, or refuses it with {@code rate_limited}. The
   * account is the key's, or for a node without keys the client address's.
   */
  public Permit admit(RateKind kind, Principal principal, String address) {
    String who = principal.anonymous() ? "address " + address : "key " + principal.name();
    return switch (kind) {
      case CALL -> admitCall(who, principal);
      case WRITE -> {
        admitWrite(who, principal);
        yield NOTHING_HELD;
      }
      case NONE -> NOTHING_HELD;
    };
  }

  /**
   * Lets a call in or refuses it with {@code rate_limited}.
   *
   * @param who       the key's name or the client's address: whose account it is
   * @param principal whose limits apply
   * @throws SnakepitException {@code rate_limited}, with {@code retry_after_s}
   */
  public Permit admitCall(String who, Principal principal) {
    RateLimitSettings s = settings(principal);
    if (!s.any()) {
      return NOTHING_HELD;
    }
    Account a = account(who, s);
    synchronized (a) {
      long now = nanoClock.getAsLong();
      a.lastUsed = now;
      if (s.concurrentCalls() > 0 && a.running >= s.concurrentCalls()) {
        throw refused("concurrent-calls", s.concurrentCalls() + " calls at once", 1);
      }
      if (s.executePerS() > 0) {
        double wait = a.calls.take(now, s.executePerS(), s.executeBurst());
        if (wait > 0) {
          throw refused("execute-per-s", s.executePerS() + " calls a second", wait);
        }
      }
      if (s.concurrentCalls() <= 0) {
        return NOTHING_HELD;
      }
      a.running++;
    }
    return new Permit() {
      private boolean released;

      @Override
      public void release() {
        synchronized (a) {
          if (!released) {
            released = true;
            a.running--;
          }
        }
      }
    };
  }

  /** Lets a session write in or refuses it with {@code rate_limited}. */
  public void admitWrite(String who, Principal principal) {
    RateLimitSettings s = settings(principal);
    if (s.sessionWritesPerS() <= 0) {
      return;
    }
    Account a = account(who, s);
    synchronized (a) {
      long now = nanoClock.getAsLong();
      a.lastUsed = now;
      double wait = a.writes.take(now, s.sessionWritesPerS(), s.sessionWritesBurst());
      if (wait > 0) {
        throw refused("session-writes-per-s", s.sessionWritesPerS() + " session writes a second", wait);
      }
    }
  }

  /** Forgets idle accounts; the node calls it now and then. */
  public void forgetIdle() {
    long now = nanoClock.getAsLong();
    accounts.values().removeIf(a -> {
      synchronized (a) {
        return a.running == 0 && now - a.lastUsed > IDLE_NANOS;
      }
    });
  }

  int accounts() {
    return accounts.size();
  }

  private RateLimitSettings settings(Principal principal) {
    return principal != null && principal.limits() != null ? principal.limits() : defaults;
  }

  private Account account(String who, RateLimitSettings s) {
    return accounts.computeIfAbsent(who, k -> new Account(nanoClock.getAsLong(), s));
  }

  private static SnakepitException refused(String limit, String what, double waitS) {
    long retry = Math.max(1, (long) Math.ceil(waitS));
    return new SnakepitException(ErrorCode.RATE_LIMITED, "Over this node's limit of " + what + " for this key ("
        + "security.rate-limits." + limit + "); retry after " + retry + " s.", null,
        new JsonObject().put("limit", limit).put("retry_after_s", retry));
  }

  /** One key's buckets and running calls. */
  private static final class Account {
    final Bucket calls;
    final Bucket writes;
    int running;
    long lastUsed;

    Account(long now, RateLimitSettings s) {
      calls = new Bucket(now, s.executeBurst());
      writes = new Bucket(now, s.sessionWritesBurst());
      lastUsed = now;
    }
  }

  /** A token bucket: {@code perS} tokens a second, at most {@code burst} saved. */
  private static final class Bucket {
    double tokens;
    long at;

    Bucket(long now, double burst) {
      tokens = burst;
      at = now;
    }

    /** Takes a token and answers 0, or answers the seconds until one is there. */
    double take(long now, double perS, double burst) {
      tokens = Math.min(burst, tokens + (now - at) / 1e9 * perS);
      at = now;
      if (tokens >= 1) {
        tokens -= 1;
        return 0;
      }
      return (1 - tokens) / perS;
    }
  }
}
