package io.snakepit.supervisor;

/** Controls a running streaming call: flow control and cancellation. */
public interface StreamHandle {

  /** Lets the worker send {@code n} more items. */
  void request(int n);

  /** Asks the worker to stop; the observer then gets {@code cancelled}. */
  void cancel();
}
