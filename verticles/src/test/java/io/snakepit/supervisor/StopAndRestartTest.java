package io.snakepit.supervisor;

import static io.snakepit.supervisor.SupervisorHarness.alive;
import static io.snakepit.supervisor.SupervisorHarness.await;
import static io.snakepit.supervisor.SupervisorHarness.awaitFailure;
import static io.snakepit.supervisor.SupervisorHarness.eventually;
import static io.snakepit.supervisor.SupervisorHarness.incarnationOf;
import static io.snakepit.supervisor.SupervisorHarness.slotAndGeneration;
import static io.snakepit.supervisor.SupervisorHarness.supervisionPool;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.spi.ILoggingEvent;
import io.snakepit.contract.Addresses;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** The ends of a worker's life: a stop it resists, and restarts that back off. Real processes and signals. */
class StopAndRestartTest {

  /** Whether the process ignores SIGTERM, from the kernel's view of it (SigIgn in /proc/PID/status). */
  private static boolean ignoresSigterm(long pid) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
        if (line.startsWith("SigIgn:")) {
          return (Long.parseUnsignedLong(line.substring(7).trim(), 16) & (1L << (15 - 1))) != 0;
        }
      }
    } catch (Exception gone) {
      // not there (yet or any more)
    }
    return false;
  }

  @Test
  void aWorkerThatIgnoresShutdownAndSigtermIsKilledAfterTheGracePeriods() throws Exception {
    // A heartbeat timeout far away, so that only the stop sequence can end the worker.
    JsonObject cfg = supervisionPool(1).put("drain-timeout-ms", 100).put("stop-grace-ms", 300)
        .put("heartbeat-timeout-ms", 600_000);
    try (SupervisorHarness h = new SupervisorHarness().start(cfg);
         LogCapture log = new LogCapture(WorkerProcess.class)) {
      long pid = h.readyPids().get(0);
      Future<JsonObject> call = h.execute("obstinate", new JsonObject(), 600_000);
      eventually("the tool ignores SIGTERM and blocks its worker", () -> ignoresSigterm(pid));

      Future<Void> stop = h.undeploy();
      SnakepitException e = (SnakepitException) awaitFailure(call);
      assertThat(e.errorCode()).isEqualTo(ErrorCode.WORKER_CRASHED);
      assertThat(e.details().getInteger("exit_code")).as("128 + SIGKILL").isEqualTo(137);
      await(stop);
      assertThat(alive(pid)).isFalse();
      List<String> lines = log.events().stream().map(ILoggingEvent::getFormattedMessage).toList();
      assertThat(lines).anyMatch(l -> l.contains("still running 300 ms after SHUTDOWN; sending SIGTERM"));
      assertThat(lines).anyMatch(l -> l.contains("ignored SIGTERM; sending SIGKILL"));
    }
  }

  @Test
  void restartBackoffDoublesUpToTheMaximumAndResetsOnceAWorkerIsReady() throws Exception {
    try (SupervisorHarness h = new SupervisorHarness()) {
      List<JsonObject> crashes = new CopyOnWriteArrayList<>();
      h.vertx.eventBus().<JsonObject>consumer(Addresses.EVENTS, m -> {
        if ("worker.crashed".equals(m.body().getString("type"))) {
          crashes.add(m.body());
        }
      });
      JsonObject backoff = new JsonObject().put("size", 1).put("backoff-min-ms", 50).put("backoff-max-ms", 400);
      // "broken" never gets a worker up; the sixth failure within the window makes it degraded.
      h.startWith(h.configWithPools(new JsonObject()
          .put("healthy", backoff.copy())
          .put("broken", backoff.copy().put("adapter", "no_such_module_anywhere:Adapter").put("restart-max", 5))));

      eventually("six failed starts", () -> crashesOf(crashes, "broken").size() >= 6);
      List<JsonObject> broken = crashesOf(crashes, "broken").subList(0, 6);
      assertThat(broken).extracting(c -> slotAndGeneration(c.getString("id")))
          .containsExactly("broken-0.0", "broken-0.1", "broken-0.2", "broken-0.3", "broken-0.4", "broken-0.5");
      // Doubling from backoff-min-ms, capped at backoff-max-ms; degraded (the last) probes at the maximum.
      assertThat(broken).extracting(c -> c.getLong("restart_in_ms")).containsExactly(50L, 100L, 200L, 400L, 400L, 400L);
      assertThat(h.pool("broken").getBoolean("degraded")).isTrue();

      // A worker that came up resets its slot's backoff: each of these crashes is replaced at once.
      for (int i = 0; i < 2; i++) {
        String before = h.readyIds("healthy").get(0);
        SnakepitException e = (SnakepitException) awaitFailure(h.executeOn("healthy", "crash", new JsonObject()));
        assertThat(e.errorCode()).isEqualTo(ErrorCode.WORKER_CRASHED);
        eventually("a new worker is ready", () -> h.readyIds("healthy").size() == 1
            && !h.readyIds("healthy").contains(before));
      }
      eventually("both crashes reported", () -> crashesOf(crashes, "healthy").size() == 2);
      List<JsonObject> healthy = crashesOf(crashes, "healthy");
      assertThat(healthy).extracting(c -> slotAndGeneration(c.getString("id")))
          .containsExactly("healthy-0.0", "healthy-0.1");
      // Both pools' workers, restarts included, carry the one incarnation of this supervisor's run.
      assertThat(h.readyIds("healthy")).hasSize(1);
      String incarnation = incarnationOf(h.readyIds("healthy").get(0));
      assertThat(broken).extracting(c -> incarnationOf(c.getString("id"))).containsOnly(incarnation);
      assertThat(healthy).extracting(c -> incarnationOf(c.getString("id"))).containsOnly(incarnation);
      assertThat(healthy).extracting(c -> c.getLong("restart_in_ms")).containsExactly(0L, 0L);
    }
  }

  private static List<JsonObject> crashesOf(List<JsonObject> crashes, String pool) {
    return crashes.stream().filter(c -> pool.equals(c.getString("pool"))).toList();
  }
}
