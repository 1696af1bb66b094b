package io.snakepit.tracing;

import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.TraceFlags;
import io.opentelemetry.api.trace.TraceState;

/** The W3C {@code traceparent} value of a span, both ways: version {@code 00} only. */
public final class TraceParent {

  private TraceParent() {
  }

  /** {@code 00-<trace id>-<span id>-<flags>} of {@code span}. */
  public static String of(SpanContext span) {
    return "00-" + span.getTraceId() + "-" + span.getSpanId() + "-" + span.getTraceFlags().asHex();
  }

  /** The remote span a {@code traceparent} names, or null when the value is not a valid one. */
  public static SpanContext parse(Object value) {
    if (!(value instanceof String s) || s.length() != 55 || !s.startsWith("00-") || s.charAt(35) != '-'
        || s.charAt(52) != '-') {
      return null;
    }
    String flags = s.substring(53);
    if (!isLowerHex(flags)) {
      return null;
    }
    SpanContext span = SpanContext.createFromRemoteParent(s.substring(3, 35), s.substring(36, 52),
        TraceFlags.fromHex(flags, 0), TraceState.getDefault());
    return span.isValid() ? span : null;
  }

  private static boolean isLowerHex(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (!(c >= '0' && c <= '9' || c >= 'a' && c <= 'f')) {
        return false;
      }
    }
    return true;
  }
}
