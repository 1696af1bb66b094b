package io.snakepit.contract;

/**
 * The names tracing uses (docs/tracing.md): the attributes of the node's own spans and of the spans a
 * Python worker reports (the header that carries a trace is {@link Headers#TRACEPARENT}). Defined once,
 * here, so that the node, the worker protocol and the docs agree.
 */
public final class SpanAttributes {

  private SpanAttributes() {
  }

  /** The tool a call runs. */
  public static final String TOOL = "snakepit.tool";

  /** The pool it runs in. */
  public static final String POOL = "snakepit.pool";

  /** The session it runs in, when it has one. */
  public static final String SESSION_ID = "snakepit.session.id";

  /** The worker that runs it, e.g. {@code default-0.0@mi3k2f}. */
  public static final String WORKER = "snakepit.worker";

  /** The node that made the span. */
  public static final String NODE = "snakepit.node";

  /** {@value #OUTCOME_OK} or {@value #OUTCOME_ERROR}. */
  public static final String OUTCOME = "snakepit.outcome";

  /** The call's error code ({@link ErrorCode#code()}, or a worker's own) when its outcome is an error. */
  public static final String ERROR_CODE = "snakepit.error.code";

  /** A node call a tool made ({@code ctx.call}, {@code ctx.session}): its operation, e.g. {@code session.incr}. */
  public static final String OP = "snakepit.op";

  /** Outcome of a span whose work succeeded. */
  public static final String OUTCOME_OK = "ok";

  /** Outcome of a span whose work failed; {@link #ERROR_CODE} says how. */
  public static final String OUTCOME_ERROR = "error";

  /** The MDC key of the current trace id beside {@link CorrelatedLog#MDC_KEY}, as config/logback.xml reads it. */
  public static final String MDC_TRACE_ID = "trace_id";
}
