package io.snakepit.supervisor;

import io.snakepit.contract.SnakepitException;

/**
 * Receives the items of a streaming call, on the supervisor's event loop.
 * Exactly one of {@link #onEnd()} or {@link #onError} ends the stream.
 */
public interface StreamObserver {

  /** The call reached a worker. */
  default void onStart(String workerId) {
  }

  void onItem(Object item);

  void onEnd();

  void onError(SnakepitException error);
}
