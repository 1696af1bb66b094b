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

  /**
   * The W3C trace context header (docs/tracing.md), as HTTP and gRPC clients send it and as Vert.x's tracer
   * carries it in event-bus headers; also the key of a REQUEST's and a CALL's trace context in the worker
   * protocol (docs/protocol.md).
   */
  public static final String TRACEPARENT = "traceparent";

  /**
   * On a body that may cross between JVMs (a forwarded call, its reply, a stream's item): where its bytes are,
   * as a JSON array of paths ({@link BytePaths}); absent when it has none.
   */
  public static final String BYTES_AT = "snakepit-bytes-at";

  /** The correlation id of a request, over HTTP. */
  public static final String HTTP_CORRELATION_ID = "X-Correlation-Id";

  /** What a client may send as a correlation id: short, and safe in logs and headers. */
  private static final java.util.regex.Pattern VALID_CORRELATION_ID =
      java.util.regex.Pattern.compile("[A-Za-z0-9._:-]{1,128}");

  /** The correlation id a client sent, when it is valid; otherwise a new one. */
  public static String correlationIdOrNew(String given) {
    return given != null && VALID_CORRELATION_ID.matcher(given).matches() ? given : newCorrelationId();
  }

  /**
   * A new correlation id, shaped as a random (version 4) UUID. It only has to be unique enough to find
   * a request's lines in the logs, not unguessable, so it draws from {@code ThreadLocalRandom}:
   * {@code UUID.randomUUID()} takes {@code SecureRandom}'s lock on every request.
   */
  public static String newCorrelationId() {
    java.util.concurrent.ThreadLocalRandom r = java.util.concurrent.ThreadLocalRandom.current();
    long msb = (r.nextLong() & ~0xF000L) | 0x4000L;
    long lsb = (r.nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
    return new java.util.UUID(msb, lsb).toString();
  }
}
