package io.snakepit.app.tracing;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * A capture OTLP receiver for tests: an HTTP server on a free port that accepts {@code POST /v1/traces}
 * (OTLP/HTTP with protobuf, what a node's exporter sends) and keeps every span it is sent. A node whose
 * {@code tracing.endpoint} is {@link #endpoint()} exports to it.
 *
 * <p>It decodes the few fields the tests read (ids, name, kind, attributes, status, the resource's
 * attributes) straight from the wire format with protobuf-java's reader, rather than with the generated
 * classes of opentelemetry-proto: those are built for a newer protobuf runtime than the one vertx-grpc
 * brings, and would replace it on the node's class path.
 */
public final class TraceCapture implements AutoCloseable {

  /** One exported span; ids as lower-case hex, parent {@code ""} for a root span. */
  public record CapturedSpan(String traceId, String spanId, String parentSpanId, String name, int kind,
                             Map<String, Object> attributes, Map<String, Object> resource, int statusCode) {

    /** A string attribute, or null. */
    public String attr(String key) {
      Object v = attributes.get(key);
      return v == null ? null : String.valueOf(v);
    }

    @Override
    public String toString() {
      return name + " [" + spanId + " <- " + parentSpanId + "] " + attributes;
    }
  }

  private final HttpServer server;
  private final List<CapturedSpan> spans = new CopyOnWriteArrayList<>();
  /** Requests it could not decode: a test fails on them rather than miss spans silently. */
  private final List<String> errors = new CopyOnWriteArrayList<>();

  private TraceCapture(HttpServer server) {
    this.server = server;
  }

  /** Starts a receiver on a free loopback port. */
  public static TraceCapture start() throws Exception {
    Vertx v = Vertx.vertx();
    try {
      HttpServer server = v.createHttpServer();
      TraceCapture capture = new TraceCapture(server);
      server.requestHandler(req -> {
        if (!"/v1/traces".equals(req.path())) {
          req.response().setStatusCode(404).end();
          return;
        }
        req.body().onSuccess(body -> {
          try {
            capture.spans.addAll(decodeRequest(body.getBytes()));
            req.response().putHeader("content-type", "application/x-protobuf").end();
          } catch (IOException | RuntimeException e) {
            capture.errors.add(String.valueOf(e));
            req.response().setStatusCode(400).end();
          }
        });
      });
      server.listen(0, "127.0.0.1").toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
      capture.owned = v;
      return capture;
    } catch (Exception e) {
      v.close();
      throw e;
    }
  }

  /** The receiver's own Vert.x, closed with it. */
  private Vertx owned;

  /** The OTLP/HTTP base URL to configure as {@code tracing.endpoint}. */
  public String endpoint() {
    return "http://127.0.0.1:" + server.actualPort();
  }

  /** Every span received so far. */
  public List<CapturedSpan> spans() {
    if (!errors.isEmpty()) {
      throw new AssertionError("the capture receiver could not decode an export: " + errors);
    }
    return List.copyOf(spans);
  }

  /** The spans of one trace. */
  public List<CapturedSpan> trace(String traceId) {
    return spans().stream().filter(s -> s.traceId().equals(traceId)).collect(Collectors.toList());
  }

  /**
   * Waits until the spans of {@code traceId} satisfy {@code done} (polling, up to {@code deadline}) and returns
   * them; fails with what arrived when they never do.
   */
  public List<CapturedSpan> awaitTrace(String traceId, Duration deadline, Predicate<List<CapturedSpan>> done)
      throws InterruptedException {
    long end = System.nanoTime() + deadline.toNanos();
    while (true) {
      List<CapturedSpan> trace = trace(traceId);
      if (done.test(trace)) {
        return trace;
      }
      if (System.nanoTime() > end) {
        throw new AssertionError("trace " + traceId + " incomplete after " + deadline + ": " + trace
            + "\nall spans: " + spans());
      }
      Thread.sleep(50);
    }
  }

  @Override
  public void close() throws Exception {
    try {
      server.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } finally {
      owned.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
  }

  // -- OTLP protobuf: opentelemetry/proto/collector/trace/v1/trace_service.proto and trace/v1/trace.proto --

  static List<CapturedSpan> decodeRequest(byte[] bytes) throws IOException {
    List<CapturedSpan> out = new ArrayList<>();
    CodedInputStream in = CodedInputStream.newInstance(bytes);
    for (int tag; (tag = in.readTag()) != 0; ) {
      if (WireFormat.getTagFieldNumber(tag) == 1) { // resource_spans
        decodeResourceSpans(in.readByteArray(), out);
      } else {
        in.skipField(tag);
      }
    }
    return out;
  }

  private static void decodeResourceSpans(byte[] bytes, List<CapturedSpan> out) throws IOException {
    Map<String, Object> resource = new LinkedHashMap<>();
    List<byte[]> scopes = new ArrayList<>();
    CodedInputStream in = CodedInputStream.newInstance(bytes);
    for (int tag; (tag = in.readTag()) != 0; ) {
      switch (WireFormat.getTagFieldNumber(tag)) {
        case 1 -> { // resource { repeated KeyValue attributes = 1 }
          CodedInputStream r = CodedInputStream.newInstance(in.readByteArray());
          for (int t; (t = r.readTag()) != 0; ) {
            if (WireFormat.getTagFieldNumber(t) == 1) {
              keyValue(r.readByteArray(), resource);
            } else {
              r.skipField(t);
            }
          }
        }
        case 2 -> scopes.add(in.readByteArray()); // scope_spans
        default -> in.skipField(tag);
      }
    }
    for (byte[] scope : scopes) {
      CodedInputStream s = CodedInputStream.newInstance(scope);
      for (int tag; (tag = s.readTag()) != 0; ) {
        if (WireFormat.getTagFieldNumber(tag) == 2) { // spans
          out.add(decodeSpan(s.readByteArray(), resource));
        } else {
          s.skipField(tag);
        }
      }
    }
  }

  private static CapturedSpan decodeSpan(byte[] bytes, Map<String, Object> resource) throws IOException {
    HexFormat hex = HexFormat.of();
    String traceId = "";
    String spanId = "";
    String parent = "";
    String name = "";
    int kind = 0;
    int status = 0;
    Map<String, Object> attributes = new LinkedHashMap<>();
    CodedInputStream in = CodedInputStream.newInstance(bytes);
    for (int tag; (tag = in.readTag()) != 0; ) {
      switch (WireFormat.getTagFieldNumber(tag)) {
        case 1 -> traceId = hex.formatHex(in.readByteArray());
        case 2 -> spanId = hex.formatHex(in.readByteArray());
        case 4 -> parent = hex.formatHex(in.readByteArray());
        case 5 -> name = in.readString();
        case 6 -> kind = in.readEnum();
        case 9 -> keyValue(in.readByteArray(), attributes);
        case 15 -> { // status { string message = 2; StatusCode code = 3; }
          CodedInputStream st = CodedInputStream.newInstance(in.readByteArray());
          for (int t; (t = st.readTag()) != 0; ) {
            if (WireFormat.getTagFieldNumber(t) == 3) {
              status = st.readEnum();
            } else {
              st.skipField(t);
            }
          }
        }
        default -> in.skipField(tag);
      }
    }
    return new CapturedSpan(traceId, spanId, parent, name, kind, attributes, resource, status);
  }

  /** KeyValue { string key = 1; AnyValue value = 2 }; AnyValue: string 1, bool 2, int 3, double 4. */
  private static void keyValue(byte[] bytes, Map<String, Object> into) throws IOException {
    String key = null;
    Object value = null;
    CodedInputStream in = CodedInputStream.newInstance(bytes);
    for (int tag; (tag = in.readTag()) != 0; ) {
      switch (WireFormat.getTagFieldNumber(tag)) {
        case 1 -> key = in.readString();
        case 2 -> {
          CodedInputStream v = CodedInputStream.newInstance(in.readByteArray());
          for (int t; (t = v.readTag()) != 0; ) {
            switch (WireFormat.getTagFieldNumber(t)) {
              case 1 -> value = v.readString();
              case 2 -> value = v.readBool();
              case 3 -> value = v.readInt64();
              case 4 -> value = v.readDouble();
              default -> v.skipField(t);
            }
          }
        }
        default -> in.skipField(tag);
      }
    }
    if (key != null) {
      into.put(key, value);
    }
  }
}
