package io.snakepit.supervisor;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Tag values stay bounded: only declared tools become tags. */
class PoolMetricsTest {

  @Test
  void undeclaredToolNamesAllMapToUnknown() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    PoolMetrics m = new PoolMetrics(registry, "p");
    m.tools(new JsonArray().add(new JsonObject().put("name", "echo")));
    m.callDone("echo", PoolMetrics.OK, 1_000_000);
    for (int i = 0; i < 50; i++) {
      m.callDone("made-up-" + i, "unknown_tool", 1_000);
    }
    m.callDone(null, "timeout", 1_000);
    List<String> tools = registry.find("snakepit.call.duration").timers().stream()
        .map(t -> t.getId().getTag("tool")).distinct().sorted().toList();
    assertThat(tools).containsExactly("echo", "unknown");
    Timer unknown = registry.find("snakepit.call.duration").tag("tool", "unknown").tag("outcome", "unknown_tool")
        .timer();
    assertThat(unknown.count()).isEqualTo(50);
  }

  @Test
  void gaugesShowTheSnapshotAndCloseRemovesEveryMeter() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    PoolMetrics m = new PoolMetrics(registry, "p");
    m.refresh(List.of(), 3, true);
    assertThat(registry.get("snakepit.pool.queue.depth").tag("pool", "p").gauge().value()).isEqualTo(3);
    assertThat(registry.get("snakepit.pool.degraded").gauge().value()).isEqualTo(1);
    assertThat(registry.get("snakepit.workers").tag("state", "ready").gauge().value()).isZero();
    m.restarted();
    m.recycled();
    assertThat(registry.get("snakepit.worker.restarts").counter().count()).isEqualTo(1);
    m.close();
    assertThat(registry.getMeters()).extracting(Meter::getId).isEmpty();
  }
}
