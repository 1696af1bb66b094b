package io.snakepit.contract;

import org.slf4j.MDC;

/**
 * Puts a call's correlation id in the logging context (MDC key
 * {@value #MDC_KEY}) for the log statements about that call, so that the text
 * format ({@code cid=...}) and the JSON format carry it, as they do for the
 * records a Python worker sends for the call: one id finds every line.
 * Vert.x callbacks hop threads, so the id is set around each statement
 * rather than kept for a whole call.
 */
public final class CorrelatedLog {

  /** The MDC key of the correlation id, as config/logback.xml reads it. */
  public static final String MDC_KEY = "correlation_id";

  private CorrelatedLog() {
  }

  /** Set once a node in this JVM traces; until then no log statement looks for a span. */
  private static volatile boolean traceIds;

  /**
   * From now on, log statements run through {@link #with} carry the trace id of the current span, when
   * there is a sampled one, beside the correlation id (MDC key {@value SpanAttributes#MDC_TRACE_ID}).
   * The node calls it when its tracing is on; without it nothing reads the span.
   */
  public static void includeTraceIds() {
    traceIds = true;
  }

  /** Runs {@code statement} (a log call) with {@code correlationId} in the MDC; null runs it as it is. */
  public static void with(String correlationId, Runnable statement) {
    String traceId = traceIds ? currentTraceId() : null;
    if (correlationId == null && traceId == null) {
      statement.run();
      return;
    }
    String previous = MDC.get(MDC_KEY);
    if (correlationId != null) {
      MDC.put(MDC_KEY, correlationId);
    }
    if (traceId != null) {
      MDC.put(SpanAttributes.MDC_TRACE_ID, traceId);
    }
    try {
      statement.run();
    } finally {
      if (traceId != null) {
        MDC.remove(SpanAttributes.MDC_TRACE_ID);
      }
      if (previous == null) {
        MDC.remove(MDC_KEY);
      } else {
        MDC.put(MDC_KEY, previous);
      }
    }
  }

  /** The trace id of the current span, when it is sampled; otherwise null. */
  private static String currentTraceId() {
    io.opentelemetry.api.trace.SpanContext span = io.opentelemetry.api.trace.Span.current().getSpanContext();
    return span.isSampled() ? span.getTraceId() : null;
  }
}
