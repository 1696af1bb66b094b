package io.snakepit.session;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The sliding window behind /health/sessions, driven by a fake clock. */
class OperationStatsTest {

  private final AtomicLong now = new AtomicLong(1_000_000_000_000L);
  private final OperationStats stats = new OperationStats(now::get);

  @Test
  void anEmptyWindowHasNoPercentilesAndNoErrors() {
    JsonObject s = stats.snapshot();
    assertThat(s.getLong("operations")).isZero();
    assertThat(s.getDouble("error_rate")).isZero();
    assertThat(s.getValue("p99_ms")).isNull();
    assertThat(s.getInteger("window_s")).isEqualTo(OperationStats.WINDOW_S);
  }

  @Test
  void percentilesCoverTheRecordedLatenciesWithinOneBucket() {
    for (int i = 0; i < 99; i++) {
      stats.record(100_000, false); // 0.1 ms
    }
    stats.record(50_000_000, true); // 50 ms
    JsonObject s = stats.snapshot();
    assertThat(s.getLong("operations")).isEqualTo(100);
    assertThat(s.getLong("errors")).isEqualTo(1);
    assertThat(s.getDouble("error_rate")).isEqualTo(0.01);
    assertThat(s.getDouble("p50_ms")).isBetween(0.1, 0.1 * 1.19);
    assertThat(s.getDouble("p99_ms")).isBetween(0.1, 0.1 * 1.19);
    stats.record(50_000_000, false);
    assertThat(stats.snapshot().getDouble("p99_ms")).isBetween(50.0, 50.0 * 1.19);
  }

  @Test
  void operationsLeaveTheWindowAfterAMinute() {
    stats.record(1_000_000, true);
    now.addAndGet(30_000_000_000L);
    stats.record(1_000_000, false);
    assertThat(stats.snapshot().getLong("operations")).isEqualTo(2);
    now.addAndGet(40_000_000_000L); // the first is now 70 s old, the second 40 s
    JsonObject s = stats.snapshot();
    assertThat(s.getLong("operations")).isEqualTo(1);
    assertThat(s.getLong("errors")).isZero();
    now.addAndGet(61_000_000_000L);
    assertThat(stats.snapshot().getLong("operations")).isZero();
  }

  @Test
  void bucketsAlwaysCoverTheirValues() {
    for (long v : new long[] {0, 1, 999, 1000, 1001, 12_345, 1_000_000, 987_654_321, Long.MAX_VALUE / 4}) {
      int b = OperationStats.bucket(v);
      assertThat(OperationStats.upperBoundNanos(b) >= v || b == 99).as("value %d bucket %d", v, b).isTrue();
      if (b > 0 && b < 99) {
        assertThat(OperationStats.upperBoundNanos(b - 1)).isLessThan(v);
      }
    }
  }
}
