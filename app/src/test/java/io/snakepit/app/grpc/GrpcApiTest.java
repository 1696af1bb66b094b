package io.snakepit.app.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import com.google.rpc.ErrorInfo;
import io.snakepit.app.Node;
import io.snakepit.app.NodeConfig;
import io.snakepit.grpc.v1.ExecuteRequest;
import io.snakepit.grpc.v1.ExecuteResponse;
import io.snakepit.grpc.v1.SnakepitGrpcClient;
import io.snakepit.grpc.v1.StreamEvent;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientResponse;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The gRPC API of a real node (in this JVM) with real Python workers, through Vert.x's gRPC client. */
class GrpcApiTest {

  static Node node;
  static Vertx clientVertx;
  static GrpcClient client;
  static SocketAddress address;
  static Path dataDir;

  @BeforeAll
  static void start() throws Exception {
    dataDir = Files.createTempDirectory("snakepit-grpc-");
    JsonObject cfg = new JsonObject().put("http-port", 0).put("grpc-port", 0).put("data-dir", dataDir.toString())
        .put("pools", new JsonObject().put("default", new JsonObject().put("size", 1)));
    node = new Node(NodeConfig.fromJson(cfg, "grpc-test"));
    await(node.start());
    clientVertx = Vertx.vertx();
    client = GrpcClient.client(clientVertx);
    address = SocketAddress.inetSocketAddress(node.grpcPort(), "127.0.0.1");
  }

  @AfterAll
  static void stop() throws Exception {
    await(client.close());
    await(clientVertx.close());
    node.close();
    try (var walk = Files.walk(dataDir)) {
      walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  static <T> T await(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
  }

  /** One finished call: its status, headers, trailers and messages. */
  record Result<T>(GrpcClientResponse<?, T> response, List<T> messages) {

    /** Trailing metadata; a call that fails before any message is "trailers-only", which Vert.x shows as headers. */
    String trailer(String key) {
      String v = response.trailers() == null ? null : response.trailers().get(key);
      return v != null ? v : response.headers().get(key);
    }
  }

  static <Q, R> Result<R> call(ServiceMethod<R, Q> method, Q request, String cid) throws Exception {
    return await(client.request(address, method).compose(req -> {
      if (cid != null) {
        req.headers().set("x-correlation-id", cid);
      }
      return req.send(request);
    }).compose(resp -> {
      List<R> messages = new ArrayList<>();
      resp.handler(messages::add);
      return resp.end().transform(ar -> Future.succeededFuture(new Result<>(resp, messages)));
    }));
  }

  static ExecuteRequest execute(String tool, String argsJson) throws Exception {
    Struct.Builder args = Struct.newBuilder();
    com.google.protobuf.util.JsonFormat.parser().merge(argsJson, args);
    return ExecuteRequest.newBuilder().setTool(tool).setArgs(args).build();
  }

  @Test
  void executeAnswersTheResultAndTheCorrelationId() throws Exception {
    Result<ExecuteResponse> r = call(SnakepitGrpcClient.Execute, execute("echo", "{\"x\": 1, \"y\": [true, null]}"),
        "java-cid-1");
    assertThat(r.response().status()).isEqualTo(GrpcStatus.OK);
    assertThat(r.response().headers().get("x-correlation-id")).isEqualTo("java-cid-1");
    assertThat(r.messages()).hasSize(1);
    assertThat(r.messages().get(0).getResult().getStructValue().getFieldsOrThrow("x").getNumberValue()).isEqualTo(1);
    assertThat(r.messages().get(0).getNode()).isEqualTo("grpc-test");
  }

  @Test
  void errorsCarryTheStatusTheCodeTheJsonAndAGoogleRpcStatus() throws Exception {
    Result<ExecuteResponse> r = call(SnakepitGrpcClient.Execute, execute("no_such_tool", "{}"), "java-cid-2");
    assertThat(r.response().status()).isEqualTo(GrpcStatus.NOT_FOUND);
    assertThat(r.messages()).isEmpty();
    assertThat(r.trailer(GrpcErrors.ERROR_CODE_KEY)).isEqualTo("unknown_tool");
    JsonObject err = new JsonObject(r.trailer(GrpcErrors.ERROR_KEY));
    assertThat(err.getString("code")).isEqualTo("unknown_tool");
    assertThat(err.getString("correlation_id")).isEqualTo("java-cid-2");
    assertThat(err.getJsonArray("tools").getList()).contains("echo");
    // The hand-encoded details parse as the real google.rpc types.
    com.google.rpc.Status status = com.google.rpc.Status.parseFrom(
        Base64.getDecoder().decode(r.trailer(GrpcErrors.DETAILS_KEY)));
    assertThat(status.getCode()).isEqualTo(GrpcStatus.NOT_FOUND.code);
    ErrorInfo info = status.getDetails(0).unpack(ErrorInfo.class);
    assertThat(info.getReason()).isEqualTo("unknown_tool");
    assertThat(info.getDomain()).isEqualTo(GrpcErrors.DOMAIN);
    assertThat(info.getMetadataMap()).containsEntry("correlation_id", "java-cid-2");
  }

  @Test
  void executeStreamSendsStartThenTheItems() throws Exception {
    Result<StreamEvent> r = call(SnakepitGrpcClient.ExecuteStream, execute("count", "{\"n\": 3}"), null);
    assertThat(r.response().status()).isEqualTo(GrpcStatus.OK);
    assertThat(r.messages()).hasSize(4);
    assertThat(r.messages().get(0).hasStart()).isTrue();
    assertThat(r.messages().subList(1, 4)).extracting(e -> e.getItem().getStructValue().getFieldsOrThrow("i"))
        .containsExactly(num(0), num(1), num(2));
  }

  @Test
  void aStreamingToolThatFailsEndsTheStreamWithItsError() throws Exception {
    Result<StreamEvent> r = call(SnakepitGrpcClient.ExecuteStream, execute("count", "{\"n\": \"three\"}"), null);
    assertThat(r.response().status()).isEqualTo(GrpcStatus.UNKNOWN);
    assertThat(r.trailer(GrpcErrors.ERROR_CODE_KEY)).isEqualTo("tool_failed");
  }

  static Value num(double d) {
    return Value.newBuilder().setNumberValue(d).build();
  }
}
