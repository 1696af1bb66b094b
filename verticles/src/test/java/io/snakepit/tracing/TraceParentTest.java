package io.snakepit.tracing;

import static org.assertj.core.api.Assertions.assertThat;

import io.opentelemetry.api.trace.SpanContext;
import org.junit.jupiter.api.Test;

/** W3C traceparent values both ways, and the span-id hand-off to the node's id generator. */
class TraceParentTest {

  static final String VALUE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

  @Test
  void parsesAndFormatsVersion00() {
    SpanContext span = TraceParent.parse(VALUE);
    assertThat(span).isNotNull();
    assertThat(span.getTraceId()).isEqualTo("4bf92f3577b34da6a3ce929d0e0e4736");
    assertThat(span.getSpanId()).isEqualTo("00f067aa0ba902b7");
    assertThat(span.isSampled()).isTrue();
    assertThat(span.isRemote()).isTrue();
    assertThat(TraceParent.of(span)).isEqualTo(VALUE);
    assertThat(TraceParent.parse(VALUE.replace("-01", "-00")).isSampled()).isFalse();
  }

  @Test
  void anythingElseIsNoParent() {
    for (Object bad : new Object[] {null, 7, "", "garbage", VALUE.replace("00-4b", "01-4b"),
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz",
        "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01"}) {
      assertThat(TraceParent.parse(bad)).as(String.valueOf(bad)).isNull();
    }
  }

  @Test
  void aRequestedSpanIdIsTakenOnceOnTheThreadThatStartsTheSpan() {
    assertThat(ReportedSpanIds.take()).isNull();
    String seen = ReportedSpanIds.startWith("00f067aa0ba902b7", () -> ReportedSpanIds.take() + "/"
        + ReportedSpanIds.take());
    assertThat(seen).isEqualTo("00f067aa0ba902b7/null");
    assertThat(ReportedSpanIds.take()).isNull();
  }
}
