package io.snakepit.tracing;

import java.util.function.Supplier;

/**
 * Hands the span id a Python worker chose for a span to the node's OpenTelemetry id generator, so that
 * the span the node emits for it keeps that id. It must: the worker has already told the node (in a
 * {@code CALL}'s {@code traceparent}) that the node's own spans for that operation are children of that
 * id, and those spans may already have been exported.
 *
 * <p>The node's SDK is built with an id generator that asks {@link #take()} first (app module,
 * {@code NodeTracing}); another SDK ignores it, and the reported spans then get fresh ids, still with
 * the right parents among themselves. Set and taken on one thread, around one {@code startSpan()}.
 */
public final class ReportedSpanIds {

  private static final ThreadLocal<String> REQUESTED = new ThreadLocal<>();

  private ReportedSpanIds() {
  }

  /** Runs {@code start} (a {@code SpanBuilder.startSpan()}) so that the span it starts gets {@code spanId}. */
  public static <T> T startWith(String spanId, Supplier<T> start) {
    REQUESTED.set(spanId);
    try {
      return start.get();
    } finally {
      REQUESTED.remove();
    }
  }

  /** The span id requested for the span being started on this thread, once; null when none was. */
  public static String take() {
    String id = REQUESTED.get();
    if (id != null) {
      REQUESTED.remove();
    }
    return id;
  }
}
