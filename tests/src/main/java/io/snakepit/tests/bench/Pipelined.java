package io.snakepit.tests.bench;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;

/** Runs a benchmark's operations on an event loop with a fixed number outstanding. */
final class Pipelined {

  private Pipelined() {
  }

  /**
   * Runs {@code total} operations, {@code op.apply(0)} to {@code op.apply(total - 1)}, with {@code inflight}
   * outstanding at a time, on an event loop of {@code vertx}; fails with the first operation that fails.
   */
  static void run(Vertx vertx, int total, int inflight, IntFunction<Future<?>> op) throws Exception {
    Promise<Void> done = Promise.promise();
    vertx.runOnContext(v -> new Object() {
      int sent;
      int received;

      void start() {
        for (int k = 0; k < inflight && sent < total; k++) {
          send();
        }
      }

      void send() {
        int i = sent++;
        op.apply(i).onComplete(ar -> {
          if (ar.failed()) {
            done.tryFail(ar.cause());
            return;
          }
          if (++received == total) {
            done.tryComplete();
          } else if (sent < total) {
            send();
          }
        });
      }
    }.start());
    done.future().toCompletionStage().toCompletableFuture().get(10, TimeUnit.MINUTES);
  }
}
