package io.snakepit.supervisor;

import static io.snakepit.supervisor.SupervisorHarness.await;
import static io.snakepit.supervisor.SupervisorHarness.awaitFailure;
import static io.snakepit.supervisor.SupervisorHarness.eventually;
import static io.snakepit.supervisor.WorkerState.DEAD;
import static io.snakepit.supervisor.WorkerState.DRAINING;
import static io.snakepit.supervisor.WorkerState.READY;
import static io.snakepit.supervisor.WorkerState.STARTING;
import static io.snakepit.supervisor.WorkerState.STOPPING;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The states real Python workers go through, as the worker's own log
 * records every change (at DEBUG): a start, a recycle, a crash. Every change
 * seen must be one the state table allows; none may be refused.
 */
class WorkerLifecycleTest {

  private LogCapture log;

  @BeforeEach
  void captureStateChanges() {
    log = new LogCapture(WorkerProcess.class).atDebug();
  }

  @AfterEach
  void noChangeWasRefused() {
    try {
      assertThat(log.events()).filteredOn(e -> e.getLevel() == Level.ERROR)
          .extracting(ILoggingEvent::getFormattedMessage).noneMatch(m -> m.contains("refused the state change"));
    } finally {
      log.close();
    }
  }

  private static JsonObject pool() {
    return new JsonObject().put("size", 1).put("backoff-min-ms", 50);
  }

  /** The states a worker has been in so far, in order, from its "Worker {}: {} -> {}" lines. */
  private List<WorkerState> statesOf(String workerId) {
    List<WorkerState> states = new ArrayList<>(List.of(STARTING));
    for (ILoggingEvent e : log.events()) {
      Object[] args = e.getArgumentArray();
      if ("Worker {}: {} -> {}".equals(e.getMessage()) && workerId.equals(args[0])) {
        assertThat(args[1]).as("%s changes from the state it is in", workerId).isEqualTo(states.get(states.size() - 1));
        states.add((WorkerState) args[2]);
      }
    }
    return states;
  }

  @Test
  void aStartingWorkerBecomesReady() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness().start(pool())) {
      String id = h.readyIds("default").get(0);
      assertThat(statesOf(id)).containsExactly(STARTING, READY);
    }
  }

  @Test
  void aRecycledWorkerDrainsStopsAndDiesWhileItsSuccessorStarts() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness().start(pool().put("max-requests", 1))) {
      String first = await(h.execute("echo", new JsonObject())).getString("worker");
      eventually("the recycled worker has exited", () -> statesOf(first).contains(DEAD));
      assertThat(statesOf(first)).containsExactly(STARTING, READY, DRAINING, STOPPING, DEAD);
      eventually("its successor is ready", () -> h.readyIds("default").size() == 1
          && !h.readyIds("default").contains(first));
      assertThat(statesOf(h.readyIds("default").get(0))).containsExactly(STARTING, READY);
    }
  }

  @Test
  void aCrashedWorkerDiesAndItsReplacementStarts() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness().start(pool())) {
      String crashed = h.readyIds("default").get(0);
      SnakepitException e = (SnakepitException) awaitFailure(h.execute("crash", new JsonObject()));
      assertThat(e.errorCode()).isEqualTo(ErrorCode.WORKER_CRASHED);
      eventually("the crashed worker is dead", () -> statesOf(crashed).contains(DEAD));
      // Killed on its closed connection first (DRAINING), or seen to exit first: both are the table's.
      assertThat(statesOf(crashed)).isIn(List.of(STARTING, READY, DEAD), List.of(STARTING, READY, DRAINING, DEAD));
      eventually("a replacement is ready", () -> h.readyIds("default").size() == 1
          && !h.readyIds("default").contains(crashed));
      assertThat(statesOf(h.readyIds("default").get(0))).containsExactly(STARTING, READY);
    }
  }
}
