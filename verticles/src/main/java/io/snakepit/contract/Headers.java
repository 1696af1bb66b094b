package io.snakepit.contract;

/** Event-bus and HTTP headers of the product. */
public final class Headers {

  private Headers() {
  }

  /** The correlation id of a request, on the event bus. */
  public static final String CORRELATION_ID = "correlation-id";

  /** The correlation id of a request, over HTTP. */
  public static final String HTTP_CORRELATION_ID = "X-Correlation-Id";
}
