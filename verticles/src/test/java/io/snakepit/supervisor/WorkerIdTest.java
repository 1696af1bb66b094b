package io.snakepit.supervisor;

import static io.snakepit.supervisor.SupervisorHarness.awaitFailure;
import static io.snakepit.supervisor.SupervisorHarness.eventually;
import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.contract.Addresses;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * Worker ids name one process for good: a node restarted with the same node
 * id never gives a new worker an id an earlier run used, so a session's
 * record of the worker that held its state cannot point at a stranger.
 */
class WorkerIdTest {

  /** Starts a supervisor on node "test-node", has one worker crash and restart, and returns every worker id seen. */
  private static List<String> workerIdsOfOneRun() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness()) {
      List<String> started = new CopyOnWriteArrayList<>();
      h.vertx.eventBus().<JsonObject>consumer(Addresses.EVENTS, m -> {
        if ("worker.started".equals(m.body().getString("type"))) {
          started.add(m.body().getString("id"));
        }
      });
      h.start(new JsonObject().put("size", 2).put("backoff-min-ms", 50));
      awaitFailure(h.execute("crash", new JsonObject()));
      eventually("three workers have started, one of them a restart", () -> started.size() == 3);
      return new ArrayList<>(started);
    }
  }

  @Test
  void twoRunsOfTheSameNodeNeverShareAWorkerId() throws Exception {
    List<String> first = workerIdsOfOneRun();
    List<String> second = workerIdsOfOneRun();

    assertThat(first).allMatch(id -> id.matches("default-[01]\\.[01]@[0-9a-z]+"));
    assertThat(second).doesNotContainAnyElementsOf(first);
    // The same slots and generations both times: only the incarnation tells the runs apart.
    assertThat(second.stream().map(SupervisorHarness::slotAndGeneration).sorted().toList())
        .isEqualTo(first.stream().map(SupervisorHarness::slotAndGeneration).sorted().toList());
  }

  @Test
  void incarnationsMadeInTheSameMillisecondStillDiffer() {
    // A thousand in a tight loop share milliseconds; each must still be later than the one before.
    long previous = Long.parseLong(Incarnation.next(), 36);
    for (int i = 0; i < 1_000; i++) {
      long next = Long.parseLong(Incarnation.next(), 36);
      assertThat(next).isGreaterThan(previous);
      previous = next;
    }
  }
}
