package io.snakepit.app.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Message;
import io.snakepit.app.http.SecuredNode;
import io.snakepit.grpc.v1.CreateSessionRequest;
import io.snakepit.grpc.v1.DeleteSessionRequest;
import io.snakepit.grpc.v1.DeleteVariableRequest;
import io.snakepit.grpc.v1.ExecuteRequest;
import io.snakepit.grpc.v1.GetProgramRequest;
import io.snakepit.grpc.v1.GetSessionRequest;
import io.snakepit.grpc.v1.GetVariableRequest;
import io.snakepit.grpc.v1.IncrementVariableRequest;
import io.snakepit.grpc.v1.ListSessionsRequest;
import io.snakepit.grpc.v1.ListVariablesRequest;
import io.snakepit.grpc.v1.PutProgramRequest;
import io.snakepit.grpc.v1.PutVariableRequest;
import io.snakepit.grpc.v1.SnakepitGrpcClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientResponse;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import io.vertx.grpc.health.v1.HealthCheckRequest;
import io.vertx.grpc.health.v1.HealthCheckResponse;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The role matrix of docs/security.md over every method of the gRPC API, on a real node with a keys file:
 * UNAUTHENTICATED without a token, PERMISSION_DENIED outside a role or its own sessions, the health service open.
 */
class GrpcSecurityTest {

  static SecuredNode secured;
  static Vertx vertx;
  static GrpcClient client;
  static SocketAddress address;

  private static final String C = SecuredNode.CALLER;
  private static final String R = SecuredNode.READER;
  private static final String O = SecuredNode.OPERATOR;
  private static final String A = SecuredNode.ADMIN;

  @BeforeAll
  static void start() throws Exception {
    secured = SecuredNode.start("grpc-sec", new JsonObject(), new JsonObject());
    vertx = Vertx.vertx();
    client = GrpcClient.client(vertx);
    address = SocketAddress.inetSocketAddress(secured.node.node.grpcPort(), "127.0.0.1");
    assertThat(call(C, SnakepitGrpcClient.CreateSession, CreateSessionRequest.newBuilder().setId("g-alice").build())
        .status()).isEqualTo(GrpcStatus.OK);
  }

  @AfterAll
  static void stop() throws Exception {
    if (client != null) {
      client.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
      vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
    if (secured != null) {
      secured.close();
    }
  }

  /** A finished call: its status and the typed error's code. */
  record Outcome(GrpcStatus status, String code) {
  }

  static <Q extends Message, R> Outcome call(String key, ServiceMethod<R, Q> method, Q request) throws Exception {
    GrpcClientResponse<Q, R> r = client.request(address, method).compose(req -> {
      if (key != null) {
        req.headers().set("authorization", "Bearer " + secured.keys.get(key));
      }
      return req.send(request).compose(resp -> resp.end().transform(ar -> Future.succeededFuture(resp)));
    }).toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    String code = r.trailers() != null && r.trailers().get(GrpcErrors.ERROR_CODE_KEY) != null
        ? r.trailers().get(GrpcErrors.ERROR_CODE_KEY) : r.headers().get(GrpcErrors.ERROR_CODE_KEY);
    return new Outcome(r.status(), code);
  }

  record Case(ServiceMethod<?, ?> method, Message request, Set<String> allowed) {
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  static Outcome run(String key, Case c) throws Exception {
    return call(key, (ServiceMethod) c.method(), c.request());
  }

  @Test
  void eachRoleGetsWhatTheMatrixSaysOverGrpc() throws Exception {
    String s = "g-alice";
    Map<String, Case> matrix = new LinkedHashMap<>();
    matrix.put("Execute", new Case(SnakepitGrpcClient.Execute, ExecuteRequest.newBuilder().setTool("echo").build(),
        Set.of(C, O, A)));
    matrix.put("ExecuteStream", new Case(SnakepitGrpcClient.ExecuteStream, ExecuteRequest.newBuilder()
        .setTool("count").setArgs(com.google.protobuf.Struct.newBuilder().putFields("n",
            com.google.protobuf.Value.newBuilder().setNumberValue(1).build())).build(), Set.of(C, O, A)));
    matrix.put("CreateSession", new Case(SnakepitGrpcClient.CreateSession, CreateSessionRequest.getDefaultInstance(),
        Set.of(C, O, A)));
    matrix.put("ListSessions", new Case(SnakepitGrpcClient.ListSessions, ListSessionsRequest.getDefaultInstance(),
        Set.of(R, O, A)));
    matrix.put("GetSession", new Case(SnakepitGrpcClient.GetSession, GetSessionRequest.newBuilder().setId(s).build(),
        Set.of(C, R, O, A)));
    matrix.put("ListVariables", new Case(SnakepitGrpcClient.ListVariables, ListVariablesRequest.newBuilder()
        .setSessionId(s).build(), Set.of(C, R, O, A)));
    matrix.put("GetVariable", new Case(SnakepitGrpcClient.GetVariable, GetVariableRequest.newBuilder()
        .setSessionId(s).setName("x").build(), Set.of(C, R, O, A)));
    matrix.put("GetProgram", new Case(SnakepitGrpcClient.GetProgram, GetProgramRequest.newBuilder()
        .setSessionId(s).setProgramId("p").build(), Set.of(C, R, O, A)));
    matrix.put("PutVariable", new Case(SnakepitGrpcClient.PutVariable, PutVariableRequest.newBuilder()
        .setSessionId(s).setName("x").setValue(com.google.protobuf.Value.newBuilder().setNumberValue(1)).build(),
        Set.of(C, O, A)));
    matrix.put("IncrementVariable", new Case(SnakepitGrpcClient.IncrementVariable, IncrementVariableRequest
        .newBuilder().setSessionId(s).setName("n").build(), Set.of(C, O, A)));
    matrix.put("DeleteVariable", new Case(SnakepitGrpcClient.DeleteVariable, DeleteVariableRequest.newBuilder()
        .setSessionId(s).setName("y").build(), Set.of(C, O, A)));
    matrix.put("PutProgram", new Case(SnakepitGrpcClient.PutProgram, PutProgramRequest.newBuilder()
        .setSessionId(s).setProgramId("p").setProgram(com.google.protobuf.Struct.getDefaultInstance()).build(),
        Set.of(C, O, A)));
    matrix.put("ExecuteInSession", new Case(SnakepitGrpcClient.Execute, ExecuteRequest.newBuilder().setTool("echo")
        .setSessionId(s).build(), Set.of(C, O, A)));
    matrix.put("DeleteSession", new Case(SnakepitGrpcClient.DeleteSession, DeleteSessionRequest.newBuilder()
        .setId(s).build(), Set.of(C, O, A)));
    assertThat(SnakepitGrpcClient.class.getDeclaredFields()).filteredOn(f -> ServiceMethod.class
        .isAssignableFrom(f.getType())).extracting(java.lang.reflect.Field::getName)
        .allMatch(matrix::containsKey, "every method of the service is in the matrix");

    List<String> wrong = new ArrayList<>();
    for (Map.Entry<String, Case> e : matrix.entrySet()) {
      Outcome anonymous = run(null, e.getValue());
      if (anonymous.status() != GrpcStatus.UNAUTHENTICATED || !"unauthenticated".equals(anonymous.code())) {
        wrong.add(e.getKey() + " without a token: " + anonymous);
      }
      for (String role : List.of(C, R, O, A)) {
        Outcome o = run(role, e.getValue());
        boolean refused = o.status() == GrpcStatus.PERMISSION_DENIED || o.status() == GrpcStatus.UNAUTHENTICATED;
        if (e.getValue().allowed().contains(role) == refused) {
          wrong.add(e.getKey() + " as " + role + ": " + o);
        }
        if (refused && !"forbidden".equals(o.code())) {
          wrong.add(e.getKey() + " as " + role + " refused without the forbidden code: " + o);
        }
      }
    }
    assertThat(wrong).isEmpty();
  }

  @Test
  void aCallerReachesOnlyItsOwnSessionsAndItsToolsAndTheHealthServiceIsOpen() throws Exception {
    assertThat(call(C, SnakepitGrpcClient.CreateSession, CreateSessionRequest.newBuilder().setId("g-own").build())
        .status()).isEqualTo(GrpcStatus.OK);
    String bob = SecuredNode.OTHER_CALLER;
    assertThat(call(bob, SnakepitGrpcClient.GetSession, GetSessionRequest.newBuilder().setId("g-own").build()))
        .isEqualTo(new Outcome(GrpcStatus.PERMISSION_DENIED, "forbidden"));
    assertThat(call(bob, SnakepitGrpcClient.Execute, ExecuteRequest.newBuilder().setTool("echo").setSessionId("g-own")
        .build())).isEqualTo(new Outcome(GrpcStatus.PERMISSION_DENIED, "forbidden"));
    assertThat(call(bob, SnakepitGrpcClient.CreateSession, CreateSessionRequest.newBuilder().setId("g-own").build()))
        .isEqualTo(new Outcome(GrpcStatus.PERMISSION_DENIED, "forbidden"));
    assertThat(call(bob, SnakepitGrpcClient.DeleteSession, DeleteSessionRequest.newBuilder().setId("g-own").build()))
        .isEqualTo(new Outcome(GrpcStatus.PERMISSION_DENIED, "forbidden"));
    assertThat(call(C, SnakepitGrpcClient.GetSession, GetSessionRequest.newBuilder().setId("g-own").build()).status())
        .isEqualTo(GrpcStatus.OK);

    String echoOnly = SecuredNode.ECHO_ONLY;
    assertThat(call(echoOnly, SnakepitGrpcClient.Execute, ExecuteRequest.newBuilder().setTool("echo").build()).status())
        .isEqualTo(GrpcStatus.OK);
    assertThat(call(echoOnly, SnakepitGrpcClient.Execute, ExecuteRequest.newBuilder().setTool("add").build()))
        .isEqualTo(new Outcome(GrpcStatus.PERMISSION_DENIED, "forbidden"));
    assertThat(call(echoOnly, SnakepitGrpcClient.ExecuteStream, ExecuteRequest.newBuilder().setTool("count").build()))
        .isEqualTo(new Outcome(GrpcStatus.PERMISSION_DENIED, "forbidden"));

    // Probes carry no token.
    ServiceMethod<HealthCheckResponse, HealthCheckRequest> check = GrpcServingGateTest.HEALTH_CHECK;
    HealthCheckResponse health = client.request(address, check).compose(req -> req.send(HealthCheckRequest
            .getDefaultInstance()).compose(resp -> resp.last()))
        .toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    assertThat(health.getStatus()).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
  }
}
