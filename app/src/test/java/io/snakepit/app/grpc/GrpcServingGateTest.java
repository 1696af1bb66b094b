package io.snakepit.app.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.ErrorInfo;
import io.snakepit.app.ServingState;
import io.snakepit.grpc.v1.ExecuteRequest;
import io.snakepit.grpc.v1.ExecuteResponse;
import io.snakepit.grpc.v1.GetSessionRequest;
import io.snakepit.grpc.v1.Session;
import io.snakepit.grpc.v1.SnakepitGrpcClient;
import io.snakepit.grpc.v1.StreamEvent;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientResponse;
import io.vertx.grpc.common.GrpcMessageDecoder;
import io.vertx.grpc.common.GrpcMessageEncoder;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import io.vertx.grpc.common.ServiceName;
import io.vertx.grpc.health.v1.HealthCheckRequest;
import io.vertx.grpc.health.v1.HealthCheckResponse;
import io.vertx.grpc.health.v1.HealthCheckResponse.ServingStatus;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The gRPC API of a node that does not serve yet, or any more: the verticle
 * alone on a Vert.x of its own, with a {@link ServingState} the test moves by
 * hand, so the starting window is open for as long as the test needs.
 */
class GrpcServingGateTest {

  static final ServiceMethod<HealthCheckResponse, HealthCheckRequest> HEALTH_CHECK = ServiceMethod.client(
      ServiceName.create("grpc.health.v1.Health"), "Check", GrpcMessageEncoder.encoder(),
      GrpcMessageDecoder.decoder(HealthCheckResponse.newBuilder()));

  Vertx vertx;
  ServingState state;
  GrpcApiVerticle api;
  GrpcClient client;
  SocketAddress address;

  @BeforeEach
  void start() throws Exception {
    vertx = Vertx.vertx();
    state = ServingState.starting("grpc-gate");
    api = new GrpcApiVerticle("127.0.0.1", 0, state);
    await(vertx.deployVerticle(api));
    client = GrpcClient.client(vertx);
    address = SocketAddress.inetSocketAddress(api.actualPort(), "127.0.0.1");
  }

  @AfterEach
  void stop() throws Exception {
    await(client.close());
    await(vertx.close());
  }

  static <T> T await(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  record Result<T>(GrpcClientResponse<?, T> response, List<T> messages) {
    String trailer(String key) {
      String v = response.trailers() == null ? null : response.trailers().get(key);
      return v != null ? v : response.headers().get(key);
    }

    JsonObject error() {
      return new JsonObject(trailer(GrpcErrors.ERROR_KEY));
    }
  }

  <Q, R> Result<R> call(ServiceMethod<R, Q> method, Q request, String cid) throws Exception {
    return await(client.request(address, method).compose(req -> {
      if (cid != null) {
        req.headers().set(GrpcApiVerticle.CORRELATION_ID, cid);
      }
      return req.send(request);
    }).compose(resp -> {
      List<R> messages = new ArrayList<>();
      resp.handler(messages::add);
      return resp.end().transform(ar -> Future.succeededFuture(new Result<>(resp, messages)));
    }));
  }

  ServingStatus health(String service) throws Exception {
    Result<HealthCheckResponse> r = call(HEALTH_CHECK, HealthCheckRequest.newBuilder().setService(service).build(),
        null);
    assertThat(r.response().status()).isEqualTo(GrpcStatus.OK);
    return r.messages().get(0).getStatus();
  }

  @Test
  void beforeServingCallsEndUnavailableWithTheStartingErrorAndTheCorrelationId() throws Exception {
    Result<ExecuteResponse> r = call(SnakepitGrpcClient.Execute,
        ExecuteRequest.newBuilder().setTool("noop").build(), "grpc-gate-1");
    assertThat(r.response().status()).isEqualTo(GrpcStatus.UNAVAILABLE);
    assertThat(r.messages()).isEmpty();
    assertThat(r.response().headers().get(GrpcApiVerticle.CORRELATION_ID)).isEqualTo("grpc-gate-1");
    assertThat(r.trailer(GrpcErrors.ERROR_CODE_KEY)).isEqualTo("starting");
    JsonObject err = r.error();
    assertThat(err.getString("code")).isEqualTo("starting");
    assertThat(err.getString("correlation_id")).isEqualTo("grpc-gate-1");
    assertThat(err.getString("message")).contains("grpc-gate is starting").contains("another node");
    assertThat(r.response().statusMessage()).isEqualTo(err.getString("message"));
    com.google.rpc.Status details = com.google.rpc.Status.parseFrom(
        Base64.getDecoder().decode(r.trailer(GrpcErrors.DETAILS_KEY)));
    assertThat(details.getCode()).isEqualTo(GrpcStatus.UNAVAILABLE.code);
    ErrorInfo info = details.getDetails(0).unpack(ErrorInfo.class);
    assertThat(info.getReason()).isEqualTo("starting");
    assertThat(info.getMetadataMap()).containsEntry("correlation_id", "grpc-gate-1");

    // A session call and a stream too.
    Result<Session> s = call(SnakepitGrpcClient.GetSession, GetSessionRequest.newBuilder().setId("s1").build(), null);
    assertThat(s.response().status()).isEqualTo(GrpcStatus.UNAVAILABLE);
    assertThat(s.trailer(GrpcErrors.ERROR_CODE_KEY)).isEqualTo("starting");
    Result<StreamEvent> st = call(SnakepitGrpcClient.ExecuteStream,
        ExecuteRequest.newBuilder().setTool("count").build(), "grpc-gate-2");
    assertThat(st.response().status()).isEqualTo(GrpcStatus.UNAVAILABLE);
    assertThat(st.messages()).isEmpty();
    assertThat(st.error().getString("code")).isEqualTo("starting");
    assertThat(st.error().getString("correlation_id")).isEqualTo("grpc-gate-2");

    assertThat(health("")).isEqualTo(ServingStatus.NOT_SERVING);
    assertThat(health("snakepit.v1.Snakepit")).isEqualTo(ServingStatus.NOT_SERVING);
  }

  @Test
  void onceServingACallThatFindsNoConsumerIsStartingNotInternal() throws Exception {
    state.serving();
    Result<ExecuteResponse> r = call(SnakepitGrpcClient.Execute,
        ExecuteRequest.newBuilder().setTool("noop").build(), "grpc-gate-3");
    assertThat(r.response().status()).isEqualTo(GrpcStatus.UNAVAILABLE);
    assertThat(r.error().getString("code")).isEqualTo("starting");
    assertThat(r.error().getString("address")).isEqualTo("snakepit.execute");
    assertThat(r.error().getString("correlation_id")).isEqualTo("grpc-gate-3");
    // Serving, but no pool answers here: the health service still says NOT_SERVING, for that reason.
    assertThat(health("")).isEqualTo(ServingStatus.NOT_SERVING);
  }

  @Test
  void whileStoppingCallsEndUnavailableWithShuttingDown() throws Exception {
    state.serving();
    state.stopping();
    Result<ExecuteResponse> r = call(SnakepitGrpcClient.Execute,
        ExecuteRequest.newBuilder().setTool("noop").build(), "grpc-gate-4");
    assertThat(r.response().status()).isEqualTo(GrpcStatus.UNAVAILABLE);
    assertThat(r.trailer(GrpcErrors.ERROR_CODE_KEY)).isEqualTo("shutting_down");
    assertThat(r.error().getString("correlation_id")).isEqualTo("grpc-gate-4");
    assertThat(r.error().getString("message")).contains("grpc-gate is stopping");
    assertThat(health("")).isEqualTo(ServingStatus.NOT_SERVING);
  }
}
