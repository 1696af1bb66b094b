package io.snakepit.app.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.app.TestNode;
import io.snakepit.app.security.KeysFile;
import io.snakepit.app.security.Role;
import io.snakepit.grpc.v1.ExecuteRequest;
import io.snakepit.grpc.v1.SnakepitGrpcClient;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.common.GrpcStatus;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Per-key rate limits on a real node, over HTTP and gRPC. The rates are set so low (one call in a thousand
 * seconds after the burst) that no refill can happen during the test, whatever the machine's speed.
 */
class RateLimitHttpTest {

  @Test
  void overItsLimitAKeyGets429WithRetryAfterOrResourceExhaustedAndOtherKeysAreUntouched() throws Exception {
    Path dir = Files.createTempDirectory("snakepit-rate-");
    String fast = KeysFile.newKey();
    String other = KeysFile.newKey();
    String grpcKey = KeysFile.newKey();
    String solo = KeysFile.newKey();
    KeysFile.write(dir.resolve("keys.json"), new JsonObject().put("keys", new JsonArray()
        .add(KeysFile.entry("fast", Role.CALLER, fast, Set.of(), Set.of()))
        .add(KeysFile.entry("other", Role.CALLER, other, Set.of(), Set.of()))
        .add(KeysFile.entry("grpc", Role.CALLER, grpcKey, Set.of(), Set.of()))
        .add(KeysFile.entry("solo", Role.CALLER, solo, Set.of(), Set.of())
            .put("rate_limits", new JsonObject().put("concurrent-calls", 1)))));
    JsonObject cfg = new JsonObject().put("pools", new JsonObject().put("default", new JsonObject().put("size", 2)))
        .put("security", new JsonObject().put("api-keys-file", dir.resolve("keys.json").toString())
            .put("rate-limits", new JsonObject().put("execute-per-s", 0.001).put("execute-burst", 2)
                .put("session-writes-per-s", 0.001).put("session-writes-burst", 1)));
    Vertx vertx = Vertx.vertx();
    try (TestNode node = TestNode.start("rate", cfg)) {
      String echo = "{\"tool\":\"echo\",\"args\":{}}";
      for (int i = 0; i < 2; i++) {
        assertThat(send(node, fast, "POST", "/v1/execute", echo).statusCode()).isEqualTo(200);
      }
      HttpResponse<String> over = send(node, fast, "POST", "/v1/execute", echo);
      assertThat(over.statusCode()).isEqualTo(429);
      JsonObject err = new JsonObject(over.body()).getJsonObject("error");
      assertThat(err.getString("code")).isEqualTo("rate_limited");
      assertThat(err.getString("limit")).isEqualTo("execute-per-s");
      assertThat(err.getString("correlation_id")).isNotBlank();
      assertThat(over.headers().firstValue("Retry-After")).hasValue(String.valueOf(err.getLong("retry_after_s")));
      assertThat(err.getLong("retry_after_s")).isPositive();
      assertThat(send(node, other, "POST", "/v1/execute", echo).statusCode()).isEqualTo(200);

      // Session writes have their own bucket: one create, then the next write is refused and changes nothing.
      assertThat(send(node, other, "POST", "/v1/sessions", "{\"id\":\"s-rate\"}").statusCode()).isEqualTo(201);
      HttpResponse<String> put = send(node, other, "PUT", "/v1/sessions/s-rate/variables/x", "{\"value\":1}");
      assertThat(put.statusCode()).isEqualTo(429);
      assertThat(new JsonObject(put.body()).getJsonObject("error").getString("limit")).isEqualTo("session-writes-per-s");
      assertThat(send(node, other, "GET", "/v1/sessions/s-rate/variables/x", null).statusCode()).isEqualTo(404);

      // gRPC: the same limits, as RESOURCE_EXHAUSTED with the typed error in the trailers.
      GrpcClient client = GrpcClient.client(vertx);
      SocketAddress address = SocketAddress.inetSocketAddress(node.node.grpcPort(), "127.0.0.1");
      ExecuteRequest req = ExecuteRequest.newBuilder().setTool("echo").build();
      GrpcStatus[] statuses = new GrpcStatus[3];
      String[] codes = new String[3];
      for (int i = 0; i < 3; i++) {
        var r = client.request(address, SnakepitGrpcClient.Execute).compose(call -> {
          call.headers().set("authorization", "Bearer " + grpcKey);
          return call.send(req).compose(resp -> resp.last().transform(ar -> io.vertx.core.Future.succeededFuture(resp)));
        }).toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
        statuses[i] = r.status();
        codes[i] = r.trailers() != null && r.trailers().get("snakepit-error-code") != null
            ? r.trailers().get("snakepit-error-code") : r.headers().get("snakepit-error-code");
      }
      assertThat(statuses).containsExactly(GrpcStatus.OK, GrpcStatus.OK, GrpcStatus.RESOURCE_EXHAUSTED);
      assertThat(codes[2]).isEqualTo("rate_limited");

      // At most one call at once for "solo": while a stream of its runs, the next call is refused; once the
      // client drops the stream, its place is free again.
      HttpResponse<java.io.InputStream> stream = node.http.send(node.request("POST", "/v1/execute/stream",
              "{\"tool\":\"count\",\"args\":{\"n\":100000,\"delay_ms\":50}}")
          .header("Authorization", "Bearer " + solo).build(), HttpResponse.BodyHandlers.ofInputStream());
      assertThat(stream.statusCode()).isEqualTo(200);
      var lines = new java.io.BufferedReader(new java.io.InputStreamReader(stream.body(),
          java.nio.charset.StandardCharsets.UTF_8));
      assertThat(lines.readLine()).isNotNull(); // the stream has started: the call holds its place
      HttpResponse<String> second = send(node, solo, "POST", "/v1/execute", echo);
      assertThat(second.statusCode()).isEqualTo(429);
      assertThat(new JsonObject(second.body()).getJsonObject("error").getString("limit")).isEqualTo("concurrent-calls");
      stream.body().close();
      TestNode.until("solo may call again once its stream has ended", Duration.ofSeconds(60),
          () -> send(node, solo, "POST", "/v1/execute", echo).statusCode() == 200);
      client.close();
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
      TestNode.delete(dir);
    }
  }

  private static HttpResponse<String> send(TestNode node, String key, String method, String path, String body)
      throws Exception {
    return node.http.send(node.request(method, path, body).header("Authorization", "Bearer " + key).build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
