package io.snakepit.session.hazelcast;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.internal.PromiseInternal;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;

/**
 * Hazelcast futures as Vert.x ones, without a thread per callback.
 *
 * <p>{@link Future#fromCompletionStage(CompletionStage, Context)} registers with
 * {@code whenComplete}, which Hazelcast runs on its default async executor: the
 * common fork-join pool, or, where that pool has a single thread (two cores or
 * fewer), a new thread for every callback. Here the callback runs on the thread
 * that completes the Hazelcast future ({@link #DIRECT}) and only hands the
 * result to a promise of the Vert.x context, whose listeners then run there,
 * never on a Hazelcast thread.
 */
public final class HazelcastFutures {

  /** Runs a callback on the thread that completes the future; for callbacks that only hand a result on. */
  public static final Executor DIRECT = Runnable::run;

  private HazelcastFutures() {
  }

  /** {@code stage} as a future completed on {@code context}. */
  public static <T> Future<T> on(Context context, CompletionStage<T> stage) {
    PromiseInternal<T> promise = ((ContextInternal) context).promise();
    stage.whenCompleteAsync((v, t) -> {
      if (t != null) {
        promise.fail(t);
      } else {
        promise.complete(v);
      }
    }, DIRECT);
    return promise.future();
  }
}
