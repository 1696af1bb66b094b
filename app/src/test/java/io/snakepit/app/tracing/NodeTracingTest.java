package io.snakepit.app.tracing;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.app.TestNode;
import io.snakepit.app.tracing.TraceCapture.CapturedSpan;
import io.snakepit.contract.Headers;
import io.snakepit.contract.SpanAttributes;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Tracing on one node in this JVM, with real Python workers and a capture OTLP receiver: one trace from
 * the HTTP request, through the event bus and the worker, into the Python tool and its {@code ctx.session}
 * call and the node's store operation for it; and nothing at all when tracing is off.
 */
class NodeTracingTest {

  static final String TOOLS = """
      from snakepit_worker import Context, tool


      @tool
      def tally(name: str, ctx: Context) -> int:
          ctx.logger.info("tallying %s", name)
          return ctx.session.incr(name)


      @tool
      def countdown(n: int, ctx: Context):
          for i in range(n, 0, -1):
              yield ctx.session.incr("ticks")


      @tool
      def nap(ms: int, ctx: Context) -> None:
          ctx.wait_cancelled(ms / 1000)


      @tool
      def boom() -> None:
          raise ValueError("boom")
      """;

  static Path tools;
  static TraceCapture capture;
  static TestNode traced;

  @BeforeAll
  static void start() throws Exception {
    tools = Files.createTempDirectory("snakepit-trace-tools-");
    Files.writeString(tools.resolve("trace_tools.py"), TOOLS);
    capture = TraceCapture.start();
    traced = TestNode.start("trace-on", new JsonObject()
        .put("pools", new JsonObject().put("default", pool()))
        .put("tracing", new JsonObject().put("endpoint", capture.endpoint())));
  }

  static JsonObject pool() {
    return new JsonObject().put("size", 1).put("adapter", "trace_tools").put("python-path", tools.toString());
  }

  @AfterAll
  static void stop() throws Exception {
    try {
      if (traced != null) {
        traced.close();
      }
    } finally {
      if (capture != null) {
        capture.close();
      }
      TestNode.delete(tools);
    }
  }

  static HttpResponse<String> execute(TestNode n, String path, String tool, JsonObject args, String traceparent)
      throws Exception {
    var req = n.request("POST", path, new JsonObject().put("tool", tool).put("args", args).encode());
    if (traceparent != null) {
      req.header(Headers.TRACEPARENT, traceparent);
    }
    return n.http.send(req.build(), HttpResponse.BodyHandlers.ofString());
  }

  static CapturedSpan named(List<CapturedSpan> trace, String name) {
    return trace.stream().filter(s -> s.name().equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("no span " + name + " in " + trace));
  }

  @Test
  void oneTraceFromHttpIntoPythonAndTheSessionStore() throws Exception {
    assertThat(traced.send("POST", "/v1/sessions", "{\"id\":\"traced-1\"}").statusCode()).isEqualTo(201);
    String traceId = "5af7183fb1d4cf5f11e2a3b4c5d6e7f8";
    String clientSpan = "a1b2c3d4e5f60718";
    HttpResponse<String> r = execute(traced, "/v1/sessions/traced-1/execute", "tally",
        new JsonObject().put("name", "hits"), "00-" + traceId + "-" + clientSpan + "-01");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    String worker = new JsonObject(r.body()).getString("worker");

    List<CapturedSpan> trace = capture.awaitTrace(traceId, Duration.ofSeconds(20),
        t -> t.stream().anyMatch(s -> s.name().equals("node session.incr"))
            && t.stream().anyMatch(s -> s.name().equals("worker tally")));
    Map<String, CapturedSpan> byId = trace.stream()
        .collect(Collectors.toMap(CapturedSpan::spanId, Function.identity(), (a, b) -> a));

    CapturedSpan nodeOp = named(trace, "node session.incr");
    CapturedSpan pyOp = byId.get(nodeOp.parentSpanId());
    assertThat(pyOp).as("parent of %s in %s", nodeOp, trace).isNotNull();
    assertThat(pyOp.name()).isEqualTo("session.incr");
    CapturedSpan tool = byId.get(pyOp.parentSpanId());
    assertThat(tool.name()).isEqualTo("tool tally");
    CapturedSpan onWorker = byId.get(tool.parentSpanId());
    assertThat(onWorker.name()).isEqualTo("worker tally");

    // Up from the worker's span, through the event-bus spans, to the HTTP server span, whose parent is the
    // client's span: the trace is the one the client started.
    CapturedSpan at = onWorker;
    int hops = 0;
    while (byId.containsKey(at.parentSpanId())) {
      at = byId.get(at.parentSpanId());
      hops++;
    }
    assertThat(at.parentSpanId()).as("root of %s", trace).isEqualTo(clientSpan);
    assertThat(at.kind()).as("the HTTP server span: %s", at).isEqualTo(2); // SPAN_KIND_SERVER
    assertThat(hops).as("event-bus spans between HTTP and the worker: %s", trace).isGreaterThanOrEqualTo(2);

    for (CapturedSpan s : List.of(onWorker, tool, pyOp)) {
      assertThat(s.attributes()).as(s.name()).containsEntry(SpanAttributes.TOOL, "tally")
          .containsEntry(SpanAttributes.POOL, "default").containsEntry(SpanAttributes.SESSION_ID, "traced-1")
          .containsEntry(SpanAttributes.WORKER, worker).containsEntry(SpanAttributes.NODE, "trace-on")
          .containsEntry(SpanAttributes.OUTCOME, SpanAttributes.OUTCOME_OK);
    }
    assertThat(pyOp.attributes()).containsEntry(SpanAttributes.OP, "session.incr");
    assertThat(nodeOp.attributes()).containsEntry(SpanAttributes.OP, "session.incr")
        .containsEntry(SpanAttributes.SESSION_ID, "traced-1").containsEntry(SpanAttributes.NODE, "trace-on")
        .containsEntry(SpanAttributes.OUTCOME, SpanAttributes.OUTCOME_OK);
    assertThat(onWorker.resource()).containsEntry("service.name", "snakepit");
  }

  @Test
  void pythonLogLinesOfATracedCallCarryItsTraceIdBesideTheCorrelationId() throws Exception {
    ch.qos.logback.classic.Logger python = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory
        .getLogger("snakepit.python");
    ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> lines =
        new ch.qos.logback.core.read.ListAppender<>();
    lines.start();
    python.addAppender(lines);
    try {
      assertThat(traced.send("POST", "/v1/sessions", "{\"id\":\"traced-log\"}").statusCode()).isEqualTo(201);
      String traceId = "8af7183fb1d4cf5f11e2a3b4c5d6e7f8";
      var req = traced.request("POST", "/v1/sessions/traced-log/execute",
          new JsonObject().put("tool", "tally").put("args", new JsonObject().put("name", "logged")).encode())
          .header(Headers.TRACEPARENT, "00-" + traceId + "-d1b2c3d4e5f60718-01")
          .header("X-Correlation-Id", "cid-traced-log");
      assertThat(traced.http.send(req.build(), HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
      TestNode.until("the tool's log line", Duration.ofSeconds(20), () -> List.copyOf(lines.list).stream()
          .anyMatch(e -> e.getFormattedMessage().contains("tallying logged")));
      var line = List.copyOf(lines.list).stream().filter(e -> e.getFormattedMessage().contains("tallying logged"))
          .findFirst().orElseThrow();
      assertThat(line.getMDCPropertyMap()).containsEntry(SpanAttributes.MDC_TRACE_ID, traceId)
          .containsEntry("correlation_id", "cid-traced-log");
    } finally {
      python.detachAppender(lines);
    }
  }

  @Test
  void aStreamsSpansArriveWithItsEnd() throws Exception {
    assertThat(traced.send("POST", "/v1/sessions", "{\"id\":\"traced-stream\"}").statusCode()).isEqualTo(201);
    String traceId = "9af7183fb1d4cf5f11e2a3b4c5d6e7f8";
    HttpResponse<String> r = execute(traced, "/v1/sessions/traced-stream/execute/stream", "countdown",
        new JsonObject().put("n", 3), "00-" + traceId + "-e1b2c3d4e5f60718-01");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    List<CapturedSpan> trace = capture.awaitTrace(traceId, Duration.ofSeconds(20),
        t -> t.stream().filter(s -> s.name().equals("session.incr")).count() == 3
            && t.stream().anyMatch(s -> s.name().equals("worker countdown")));
    CapturedSpan tool = named(trace, "tool countdown");
    assertThat(tool.parentSpanId()).isEqualTo(named(trace, "worker countdown").spanId());
    assertThat(trace.stream().filter(s -> s.name().equals("session.incr")))
        .allMatch(s -> s.parentSpanId().equals(tool.spanId()));
  }

  @Test
  void aCallThatTimedOutStillGetsTheSpansItsWorkerReportsLater() throws Exception {
    String traceId = "aaf7183fb1d4cf5f11e2a3b4c5d6e7f8";
    var req = traced.request("POST", "/v1/execute", new JsonObject().put("tool", "nap")
            .put("args", new JsonObject().put("ms", 10_000)).put("timeout_ms", 300).encode())
        .header(Headers.TRACEPARENT, "00-" + traceId + "-f1b2c3d4e5f60718-01");
    HttpResponse<String> r = traced.http.send(req.build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(504);
    List<CapturedSpan> trace = capture.awaitTrace(traceId, Duration.ofSeconds(20),
        t -> t.stream().anyMatch(s -> s.name().equals("tool nap"))
            && t.stream().anyMatch(s -> s.name().equals("worker nap")));
    CapturedSpan onWorker = named(trace, "worker nap");
    CapturedSpan tool = named(trace, "tool nap");
    assertThat(onWorker.attributes()).containsEntry(SpanAttributes.ERROR_CODE, "timeout");
    assertThat(tool.parentSpanId()).isEqualTo(onWorker.spanId());
    assertThat(tool.attributes()).containsEntry(SpanAttributes.ERROR_CODE, "cancelled");
  }

  @Test
  void aFailedToolCarriesItsErrorCode() throws Exception {
    String traceId = "6af7183fb1d4cf5f11e2a3b4c5d6e7f8";
    HttpResponse<String> r = execute(traced, "/v1/execute", "boom", new JsonObject(),
        "00-" + traceId + "-b1b2c3d4e5f60718-01");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(500);
    List<CapturedSpan> trace = capture.awaitTrace(traceId, Duration.ofSeconds(20),
        t -> t.stream().anyMatch(s -> s.name().equals("tool boom"))
            && t.stream().anyMatch(s -> s.name().equals("worker boom")));
    for (String name : List.of("tool boom", "worker boom")) {
      CapturedSpan s = named(trace, name);
      assertThat(s.attributes()).as(name).containsEntry(SpanAttributes.OUTCOME, SpanAttributes.OUTCOME_ERROR)
          .containsEntry(SpanAttributes.ERROR_CODE, "tool_failed");
      assertThat(s.statusCode()).as(name).isEqualTo(2); // STATUS_CODE_ERROR
    }
  }

  @Test
  void offMeansNoTracerAtAll() throws Exception {
    try (TestNode plain = TestNode.start("trace-off", new JsonObject()
        .put("pools", new JsonObject().put("default", pool())))) {
      assertThat(((VertxInternal) plain.node.vertx()).tracer()).isNull();
      assertThat(((VertxInternal) traced.node.vertx()).tracer()).isNotNull();
      assertThat(plain.send("POST", "/v1/sessions", "{\"id\":\"untraced\"}").statusCode()).isEqualTo(201);
      String traceId = "7af7183fb1d4cf5f11e2a3b4c5d6e7f8";
      HttpResponse<String> r = execute(plain, "/v1/sessions/untraced/execute", "tally",
          new JsonObject().put("name", "n"), "00-" + traceId + "-c1b2c3d4e5f60718-01");
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      assertThat(plain.node.openTelemetry()).isNull();
      // The traced node exports within its batch delay; nothing of this trace ever reaches the receiver.
      Optional<CapturedSpan> any = capture.spans().stream().filter(s -> s.traceId().equals(traceId)).findAny();
      assertThat(any).isEmpty();
    }
  }
}
