package io.snakepit.supervisor;

import io.vertx.core.Vertx;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The timers of one worker's graceful stop: the drain deadline, then, once
 * SHUTDOWN is sent, SIGTERM after stop-grace-ms and SIGKILL another
 * stop-grace-ms later, each only if the process still runs. One timer is
 * pending at a time; {@link #cancel} drops it.
 */
final class StopEscalation {

  // The worker's own logger: these lines belong to its life, and operators filter on that name.
  private static final Logger LOG = LoggerFactory.getLogger(WorkerProcess.class);

  private final Vertx vertx;
  private final String workerId;
  private long timer = -1;

  StopEscalation(Vertx vertx, String workerId) {
    this.vertx = vertx;
    this.workerId = workerId;
  }

  /** Gives in-flight calls {@code drainMs} (at least 1 ms) to finish, then runs {@code shutdown}. */
  void drainFor(long drainMs, Runnable shutdown) {
    timer = vertx.setTimer(Math.max(1, drainMs), t -> shutdown.run());
  }

  /** SHUTDOWN was sent: SIGTERM after {@code graceMs} if the process still runs, SIGKILL after another. */
  void signalAfter(WorkerSignals process, BooleanSupplier alive, long graceMs) {
    timer = vertx.setTimer(graceMs, t -> {
      if (process != null && alive.getAsBoolean()) {
        LOG.info("Worker {} still running {} ms after SHUTDOWN; sending SIGTERM", workerId, graceMs);
        process.terminate();
        timer = vertx.setTimer(graceMs, t2 -> {
          if (alive.getAsBoolean()) {
            LOG.warn("Worker {} ignored SIGTERM; sending SIGKILL", workerId);
            process.kill();
          }
        });
      }
    });
  }

  /** Drops the pending step: the drain ended early, or the process is gone. */
  void cancel() {
    vertx.cancelTimer(timer);
  }
}
