package io.snakepit.supervisor;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanBuilder;
import io.opentelemetry.api.trace.SpanContext;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.snakepit.contract.ExecuteRequest;
import io.snakepit.contract.SpanAttributes;
import io.snakepit.tracing.ReportedSpanIds;
import io.snakepit.tracing.TraceParent;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The supervisor's spans (docs/tracing.md), when the node traces; the supervisor holds none otherwise, so
 * tracing costs nothing when it is off.
 *
 * <ul>
 *   <li>{@code worker <tool>}: a call on a worker, from its REQUEST to its answer; a child of the span
 *   that was current when the call reached the supervisor (the event-bus delivery of the call). Its
 *   {@code traceparent} goes to the worker in the REQUEST.</li>
 *   <li>what the worker reports with its answer: {@code tool <tool>} (the tool's run in Python) and one
 *   span per node call the tool made ({@code session.get_var}, ...), emitted as real spans with the
 *   worker's times and ids.</li>
 *   <li>{@code node <op>}: the node serving such a call (the session store operation), a child of the
 *   worker's span for it.</li>
 * </ul>
 */
final class CallTracing {

  private static final AttributeKey<String> TOOL = AttributeKey.stringKey(SpanAttributes.TOOL);
  private static final AttributeKey<String> POOL = AttributeKey.stringKey(SpanAttributes.POOL);
  private static final AttributeKey<String> SESSION_ID = AttributeKey.stringKey(SpanAttributes.SESSION_ID);
  private static final AttributeKey<String> WORKER = AttributeKey.stringKey(SpanAttributes.WORKER);
  private static final AttributeKey<String> NODE = AttributeKey.stringKey(SpanAttributes.NODE);
  private static final AttributeKey<String> OUTCOME = AttributeKey.stringKey(SpanAttributes.OUTCOME);
  private static final AttributeKey<String> ERROR_CODE = AttributeKey.stringKey(SpanAttributes.ERROR_CODE);
  private static final AttributeKey<String> OP = AttributeKey.stringKey(SpanAttributes.OP);
  /** Reported spans kept per call at most (the worker caps them too; this guards against another runtime). */
  private static final int MAX_REPORTED = 256;

  private final Tracer tracer;
  private final String nodeId;

  CallTracing(Tracer tracer, String nodeId) {
    this.tracer = tracer;
    this.nodeId = nodeId;
  }

  /**
   * The context a new call is a child of: the current one, when it holds a sampled span; otherwise null,
   * and the call is not traced. Read where the call arrives, before it changes context or waits in a queue.
   */
  Context parentOfNewCall() {
    Context current = Context.current();
    return Span.fromContext(current).getSpanContext().isSampled() ? current : null;
  }

  /** Starts the span of {@code call} on {@code worker}; the REQUEST carries its traceparent. */
  Span startWorkerSpan(PoolCall call, WorkerProcess worker, Context parent) {
    ExecuteRequest r = call.executeRequest();
    SpanBuilder b = tracer.spanBuilder("worker " + r.tool()).setParent(parent).setSpanKind(SpanKind.CLIENT)
        .setAttribute(TOOL, r.tool()).setAttribute(POOL, worker.pool().name()).setAttribute(WORKER, worker.id())
        .setAttribute(NODE, nodeId);
    if (r.sessionId() != null) {
      b.setAttribute(SESSION_ID, r.sessionId());
    }
    return b.startSpan();
  }

  /** The value of the REQUEST's {@code traceparent}. */
  static String traceparent(Span span) {
    return TraceParent.of(span.getSpanContext());
  }

  /** Ends a call's span: {@code errorCode} null for success. */
  static void end(Span span, String errorCode) {
    if (errorCode == null) {
      span.setAttribute(OUTCOME, SpanAttributes.OUTCOME_OK);
    } else {
      span.setAttribute(OUTCOME, SpanAttributes.OUTCOME_ERROR).setAttribute(ERROR_CODE, errorCode)
          .setStatus(StatusCode.ERROR, errorCode);
    }
    span.end();
  }

  /**
   * Emits the spans a worker reported with its answer ({@code "spans"} of RESULT, ERROR or END; see
   * docs/protocol.md), as children of {@code workerSpan} and of each other, with the worker's ids, names,
   * times, attributes and error codes. What does not fit the format is skipped: a worker's report never
   * fails its call.
   */
  void report(Span workerSpan, PoolCall call, WorkerProcess worker, Object reported) {
    if (!(reported instanceof JsonArray spans)) {
      return;
    }
    SpanContext workerContext = workerSpan.getSpanContext();
    // The worker's span ids as the SDK made them: the same ids with the node's SDK, others with another.
    Map<String, SpanContext> made = new HashMap<>();
    made.put(workerContext.getSpanId(), workerContext);
    ExecuteRequest r = call.executeRequest();
    int n = 0;
    for (Object o : spans) {
      if (!(o instanceof JsonObject s) || n++ >= MAX_REPORTED) {
        continue;
      }
      String spanId = s.getValue("span_id") instanceof String v ? v : null;
      SpanContext parent = s.getValue("parent_span_id") instanceof String p ? made.get(p) : null;
      Object name = s.getValue("name");
      Object start = s.getValue("start_ns");
      Object end = s.getValue("end_ns");
      if (spanId == null || !io.opentelemetry.api.trace.SpanId.isValid(spanId) || parent == null || !(name instanceof String) || !(start instanceof Number)
          || !(end instanceof Number)) {
        continue;
      }
      AttributesBuilder attributes = Attributes.builder().put(NODE, nodeId).put(WORKER, worker.id())
          .put(TOOL, r.tool()).put(POOL, worker.pool().name());
      if (r.sessionId() != null) {
        attributes.put(SESSION_ID, r.sessionId());
      }
      if (s.getValue("attributes") instanceof JsonObject a) {
        for (String key : a.fieldNames()) {
          Object v = a.getValue(key);
          // A worker may not rename the node's own attributes.
          if (key.equals(SpanAttributes.NODE) || key.equals(SpanAttributes.WORKER)) {
            continue;
          }
          if (v instanceof String str) {
            attributes.put(key, str);
          } else if (v instanceof Number num) {
            attributes.put(AttributeKey.longKey(key), num.longValue());
          } else if (v instanceof Boolean bool) {
            attributes.put(AttributeKey.booleanKey(key), bool);
          }
        }
      }
      String errorCode = s.getValue("error_code") instanceof String c ? c : null;
      attributes.put(OUTCOME, errorCode == null ? SpanAttributes.OUTCOME_OK : SpanAttributes.OUTCOME_ERROR);
      if (errorCode != null) {
        attributes.put(ERROR_CODE, errorCode);
      }
      SpanBuilder b = tracer.spanBuilder((String) name).setParent(Context.root().with(Span.wrap(parent)))
          .setSpanKind(SpanKind.INTERNAL).setAllAttributes(attributes.build())
          .setStartTimestamp(((Number) start).longValue(), TimeUnit.NANOSECONDS);
      Span span = ReportedSpanIds.startWith(spanId, b::startSpan);
      if (errorCode != null) {
        span.setStatus(StatusCode.ERROR, errorCode);
      }
      span.end(((Number) end).longValue(), TimeUnit.NANOSECONDS);
      made.put(spanId, span.getSpanContext());
    }
  }

  /**
   * Starts the span of the node serving a worker's CALL {@code op}, a child of the span the worker named
   * in the CALL's {@code traceparent}; null when it named none (the call is not traced).
   */
  Span startNodeCallSpan(String op, Object traceparent, String workerId, String sessionId) {
    SpanContext parent = TraceParent.parse(traceparent);
    if (parent == null || !parent.isSampled()) {
      return null;
    }
    SpanBuilder b = tracer.spanBuilder("node " + op).setParent(Context.root().with(Span.wrap(parent)))
        .setSpanKind(SpanKind.SERVER).setAttribute(OP, op).setAttribute(WORKER, workerId)
        .setAttribute(NODE, nodeId);
    if (sessionId != null) {
      b.setAttribute(SESSION_ID, sessionId);
    }
    return b.startSpan();
  }
}
