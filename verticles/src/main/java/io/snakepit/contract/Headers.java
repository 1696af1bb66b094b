package io.snakepit.contract;

/** Event-bus and HTTP headers of the product. */
public final class Headers {

  private Headers() {
  }

  /** The correlation id of a request, on the event bus. */
  public static final String CORRELATION_ID = "correlation-id";

  /** On a node call from Python: the worker that made it. */
  public static final String WORKER_ID = "worker-id";

  /** How many times a call was forwarded between nodes; bounded so that disagreeing rings cannot bounce it. */
  public static final String HOPS = "snakepit-hops";

  /** The correlation id of a request, over HTTP. */
  public static final String HTTP_CORRELATION_ID = "X-Correlation-Id";
}
