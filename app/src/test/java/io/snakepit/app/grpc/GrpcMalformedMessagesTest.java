package io.snakepit.app.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.app.TestNode;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Request messages that are missing, do not decode, or are flagged compressed without an encoding end
 * with INVALID_ARGUMENT and a typed {@code bad_request} (found by tests/fuzz.sh). Before: a message that
 * did not decode reset the stream with no status, and the other two hung until the client's deadline.
 * Raw HTTP/2, since a generated client cannot send such messages.
 */
class GrpcMalformedMessagesTest {

  static TestNode n;
  static Vertx vertx;

  @BeforeAll
  static void start() throws Exception {
    n = TestNode.start("grpc-malformed-test", new JsonObject().put("pools", new JsonObject()
        .put("default", new JsonObject().put("size", 1))));
    vertx = Vertx.vertx();
  }

  @AfterAll
  static void stop() throws Exception {
    if (vertx != null) {
      vertx.close().await();
    }
    if (n != null) {
      n.close();
    }
  }

  /** The trailers (or, for a trailers-only answer, the headers) of a GetSession call with this body. */
  private static MultiMap call(Buffer body) throws Exception {
    return call(body, null);
  }

  /**
   * Each call on a connection of its own: what is tested is the server's answer to one malformed call. Vert.x
   * 5.0.7's HTTP/2 client, reusing one connection, leaves about one call in a thousand unanswered with no
   * timeout of its own firing (seen with valid calls too, 3,000 in a row; grpcio's client made 4,000 on one
   * connection to the same server without one), which failed this test in CI twice.
   */
  private static MultiMap call(Buffer body, String encoding) throws Exception {
    HttpClient client = vertx.createHttpClient(new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_2)
        .setHttp2ClearTextUpgrade(false).setDefaultHost("127.0.0.1").setDefaultPort(n.node.grpcPort())
        .setConnectTimeout(10_000));
    try {
      return call(client, body, encoding);
    } finally {
      client.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
  }

  private static MultiMap call(HttpClient client, Buffer body, String encoding) throws Exception {
    return client.request(new RequestOptions().setMethod(HttpMethod.POST)
            .setURI("/snakepit.v1.Snakepit/GetSession").setIdleTimeout(20_000))
        .compose(req -> {
          req.putHeader("content-type", "application/grpc").putHeader("te", "trailers");
          if (encoding != null) {
            req.putHeader("grpc-encoding", encoding);
          }
          return req.send(body);
        })
        .compose(resp -> resp.body().map(b -> resp.trailers().contains("grpc-status") ? resp.trailers()
            : resp.headers()))
        .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  private static void assertBadRequest(MultiMap status) {
    assertThat(status.get("grpc-status")).isEqualTo("3");
    assertThat(status.get(GrpcErrors.ERROR_CODE_KEY)).isEqualTo("bad_request");
    assertThat(new JsonObject(status.get(GrpcErrors.ERROR_KEY)).getString("correlation_id")).isNotBlank();
  }

  @Test
  void aUnaryCallWithNoMessageIsInvalidArgument() throws Exception {
    MultiMap status = call(Buffer.buffer());
    assertBadRequest(status);
    assertThat(java.net.URLDecoder.decode(status.get("grpc-message"), java.nio.charset.StandardCharsets.UTF_8))
        .contains("sent none");
  }

  @Test
  void aMessageThatDoesNotDecodeIsInvalidArgument() throws Exception {
    // Field 1 as a length-delimited string of 100 bytes, of which only 3 follow.
    Buffer body = Buffer.buffer().appendByte((byte) 0).appendInt(5).appendBytes(new byte[] {0x0a, 100, 'a', 'b', 'c'});
    assertBadRequest(call(body));
  }

  @Test
  void aMessageFlaggedCompressedWithoutAnEncodingIsInvalidArgument() throws Exception {
    Buffer body = Buffer.buffer().appendByte((byte) 1).appendInt(3).appendBytes(new byte[] {(byte) 0xff, 1, 2});
    assertBadRequest(call(body));
  }

  @Test
  void aCompressedMessageThatDoesNotInflateOrHasAnUnknownEncodingIsInvalidArgument() throws Exception {
    Buffer body = Buffer.buffer().appendByte((byte) 1).appendInt(3).appendBytes(new byte[] {(byte) 0xff, 1, 2});
    assertBadRequest(call(body, "gzip"));
    assertBadRequest(call(body, "x-nothing"));
  }
}
