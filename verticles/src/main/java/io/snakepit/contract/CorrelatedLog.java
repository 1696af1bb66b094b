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

  /** Runs {@code statement} (a log call) with {@code correlationId} in the MDC; null runs it as it is. */
  public static void with(String correlationId, Runnable statement) {
    if (correlationId == null) {
      statement.run();
      return;
    }
    String previous = MDC.get(MDC_KEY);
    MDC.put(MDC_KEY, correlationId);
    try {
      statement.run();
    } finally {
      if (previous == null) {
        MDC.remove(MDC_KEY);
      } else {
        MDC.put(MDC_KEY, previous);
      }
    }
  }
}
