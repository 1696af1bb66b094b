package io.snakepit.tests;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import io.snakepit.app.tracing.TraceCapture;
import io.snakepit.app.tracing.TraceCapture.CapturedSpan;
import io.snakepit.contract.Addresses;
import io.snakepit.contract.Headers;
import io.snakepit.contract.SpanAttributes;
import io.snakepit.grpc.v1.ExecuteRequest;
import io.snakepit.grpc.v1.ExecuteResponse;
import io.snakepit.grpc.v1.SnakepitGrpcClient;
import io.snakepit.tests.harness.Cluster;
import io.snakepit.tests.harness.Http;
import io.snakepit.tests.harness.NodeProcess;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Tracing across two real nodes (separate JVMs, real Python workers) that export to a capture OTLP
 * receiver this test starts: a call made over HTTP (and over gRPC) to the node that does not own the
 * session is one trace, in the trace id the client sent, from the first node's HTTP span through its
 * router's forward to the owner, the owner's worker, the Python tool and its {@code ctx.session} call, to
 * the owner's session store operation; each span says which node made it.
 */
@org.junit.jupiter.api.extension.ExtendWith(PrintNodeLogsOnFailure.class)
class ClusterTracingTest {

  static final Duration DEADLINE = Duration.ofSeconds(60);

  @Test
  void aForwardedCallIsOneTraceFromHttpIntoPythonOnTheOwner() throws Exception {
    try (TraceCapture capture = TraceCapture.start();
         Cluster c = new Cluster("--set", "tracing.endpoint=" + capture.endpoint()).start(2)) {
      NodeProcess entry = c.node(0);
      NodeProcess owner = c.node(1);
      String session = sessionOwnedBy(entry, owner, "traced-http");

      String traceId = "0af7651916cd43dd8448eb211c80319c";
      String clientSpan = "b7ad6b7169203331";
      HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
              URI.create(entry.baseUrl() + "/v1/sessions/" + session + "/execute"))
          .header("content-type", "application/json").header(Headers.TRACEPARENT,
              "00-" + traceId + "-" + clientSpan + "-01")
          .POST(HttpRequest.BodyPublishers.ofString(new JsonObject().put("tool", "tally")
              .put("args", new JsonObject().put("name", "hits")).encode())).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      JsonObject answer = new JsonObject(r.body());
      assertThat(answer.getString("node")).isEqualTo(owner.nodeId());

      List<CapturedSpan> trace = awaitChain(capture, traceId);
      Map<String, CapturedSpan> byId = byId(trace);
      List<CapturedSpan> chain = chainUp(named(trace, "node session.incr"), byId);

      // From the root down: HTTP on the entry node, the client's span as its parent; the forward to the owner;
      // then the owner's worker, tool, ctx.session and store spans, each the child of the one before.
      CapturedSpan http = chain.get(chain.size() - 1);
      assertThat(http.parentSpanId()).as("root of %s", chain).isEqualTo(clientSpan);
      assertThat(http.kind()).isEqualTo(2); // SERVER
      assertThat(http.attr("url.path")).isEqualTo("/v1/sessions/" + session + "/execute");
      assertThat(nodeOf(http)).isEqualTo(entry.nodeId());
      String forward = Addresses.node(owner.nodeId(), "execute");
      List<CapturedSpan> forwards = chain.stream()
          .filter(s -> forward.equals(s.attr("messaging.destination.name"))).collect(Collectors.toList());
      assertThat(forwards).as("the forward to the owner in %s", chain).hasSize(2);
      assertThat(forwards.stream().map(ClusterTracingTest::nodeOf))
          .as("sent by the entry node, received by the owner").containsExactly(owner.nodeId(), entry.nodeId());
      assertThat(chain.subList(0, 4).stream().map(CapturedSpan::name))
          .containsExactly("node session.incr", "session.incr", "tool tally", "worker tally");
      for (CapturedSpan s : chain.subList(0, 4)) {
        assertThat(nodeOf(s)).as(s.name()).isEqualTo(owner.nodeId());
        assertThat(s.attributes()).as(s.name()).containsEntry(SpanAttributes.SESSION_ID, session)
            .containsEntry(SpanAttributes.NODE, owner.nodeId())
            .containsEntry(SpanAttributes.OUTCOME, SpanAttributes.OUTCOME_OK);
      }
      for (CapturedSpan s : chain.subList(1, 4)) {
        assertThat(s.attributes()).as(s.name()).containsEntry(SpanAttributes.TOOL, "tally")
            .containsEntry(SpanAttributes.POOL, "default")
            .containsEntry(SpanAttributes.WORKER, answer.getString("worker"));
      }
      assertThat(chain.get(0).attributes()).containsEntry(SpanAttributes.OP, "session.incr");
      assertThat(trace).allMatch(s -> s.traceId().equals(traceId));

      // The same over gRPC: the traceparent in the call's metadata is honoured, and the trace reaches Python.
      String grpcTrace = "1af7651916cd43dd8448eb211c80319c";
      String grpcSession = sessionOwnedBy(entry, owner, "traced-grpc");
      ExecuteResponse g = grpcExecute(entry, grpcSession, "00-" + grpcTrace + "-c7ad6b7169203331-01");
      assertThat(g.getNode()).isEqualTo(owner.nodeId());
      List<CapturedSpan> grpcChain = chainUp(named(awaitChain(capture, grpcTrace), "node session.incr"),
          byId(capture.trace(grpcTrace)));
      assertThat(grpcChain.get(grpcChain.size() - 1).parentSpanId()).isEqualTo("c7ad6b7169203331");
      assertThat(grpcChain.stream().map(CapturedSpan::name)).contains("tool tally", "worker tally");
    }
  }

  /** A new session whose owner is {@code owner}, created through {@code via}. */
  static String sessionOwnedBy(NodeProcess via, NodeProcess owner, String prefix) throws Exception {
    for (int i = 0; i < 64; i++) {
      String id = prefix + "-" + i;
      assertThat(Http.post(via.baseUrl() + "/v1/sessions", new JsonObject().put("id", id).encode()).statusCode())
          .isEqualTo(201);
      if (owner.nodeId().equals(Http.getJson(via.baseUrl() + "/v1/sessions/" + id).getString("owner"))) {
        return id;
      }
    }
    throw new AssertionError("no session of 64 is owned by " + owner.nodeId());
  }

  /** The spans of the trace once its store span and everything above it, up to the HTTP or gRPC span, arrived. */
  static List<CapturedSpan> awaitChain(TraceCapture capture, String traceId) throws InterruptedException {
    return capture.awaitTrace(traceId, DEADLINE, t -> t.stream().filter(s -> s.name().equals("node session.incr"))
        .anyMatch(s -> {
          List<CapturedSpan> up = chainUp(s, byId(t));
          return !up.get(up.size() - 1).parentSpanId().isEmpty() && !byId(t).containsKey(up.get(up.size() - 1)
              .parentSpanId()) && up.get(up.size() - 1).kind() == 2 && up.get(up.size() - 1).attributes()
              .containsKey("url.path");
        }));
  }

  static Map<String, CapturedSpan> byId(List<CapturedSpan> trace) {
    return trace.stream().collect(Collectors.toMap(CapturedSpan::spanId, Function.identity(), (a, b) -> a));
  }

  /** {@code from}, its parent, its parent's parent... as far as the trace has them. */
  static List<CapturedSpan> chainUp(CapturedSpan from, Map<String, CapturedSpan> byId) {
    List<CapturedSpan> chain = new ArrayList<>();
    for (CapturedSpan at = from; at != null && chain.size() < 64; at = byId.get(at.parentSpanId())) {
      chain.add(at);
    }
    return chain;
  }

  static CapturedSpan named(List<CapturedSpan> trace, String name) {
    return trace.stream().filter(s -> s.name().equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("no span " + name + " in " + trace));
  }

  /** The node that exported a span (its resource's snakepit.node). */
  static String nodeOf(CapturedSpan s) {
    return String.valueOf(s.resource().get(SpanAttributes.NODE));
  }

  static ExecuteResponse grpcExecute(NodeProcess node, String session, String traceparent) throws Exception {
    Vertx vertx = Vertx.vertx();
    GrpcClient client = GrpcClient.client(vertx);
    try {
      ExecuteRequest request = ExecuteRequest.newBuilder().setTool("tally").setSessionId(session)
          .setArgs(Struct.newBuilder().putFields("name", Value.newBuilder().setStringValue("hits").build())).build();
      return client.request(SocketAddress.inetSocketAddress(node.grpcPort(), "127.0.0.1"), SnakepitGrpcClient.Execute)
          .compose(req -> {
            req.headers().set(Headers.TRACEPARENT, traceparent);
            return req.send(request);
          }).compose(resp -> resp.last())
          .toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    } finally {
      client.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
      vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
  }
}
