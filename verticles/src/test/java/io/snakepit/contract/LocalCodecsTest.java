package io.snakepit.contract;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.json.JsonObject;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Inside a node a call, its reply and its typed error are handed over by reference; between JVMs they
 * are the documented JSON. Vert.x's JSON codec would deliver a copy: these assert the same instance.
 */
class LocalCodecsTest {

  private Vertx vertx;

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
    ExecuteRequestCodec.register(vertx);
    ExecuteRequestCodec.register(vertx); // every verticle registers: the second time is a no-op
    LocalCodecs.register(vertx);
    LocalCodecs.register(vertx);
  }

  @AfterEach
  void stop() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  private static <T> T await(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  @Test
  void aRequestRecordAndASharedReplyReachTheOtherSideAsTheSameInstances() throws Exception {
    ExecuteRequest sent = new ExecuteRequest(null, "noop", new JsonObject().put("x", 1), 0, "s1", "cid-1");
    JsonObject reply = new JsonObject().put("result", new JsonObject().put("big", "value"));
    AtomicReference<Object> received = new AtomicReference<>();
    await(vertx.eventBus().localConsumer("test.execute", (Message<Object> m) -> {
      received.set(m.body());
      m.reply(reply, LocalCodecs.shared());
    }).completion());

    Object answer = await(vertx.eventBus().request("test.execute", sent)).body();

    assertThat(received.get()).isSameAs(sent);
    assertThat(answer).isSameAs(reply);
    // The JSON codec, by contrast, copies: what this saves at every hop.
    await(vertx.eventBus().localConsumer("test.copy", (Message<JsonObject> m) -> m.reply(m.body())).completion());
    JsonObject echoed = (JsonObject) await(vertx.eventBus().request("test.copy", reply)).body();
    assertThat(echoed).isEqualTo(reply).isNotSameAs(reply);
  }

  @Test
  void aTypedErrorRepliedLocallyIsTheExceptionThatWasBuilt() throws Exception {
    SnakepitException error = new SnakepitException(ErrorCode.UNKNOWN_TOOL, "No tool 'nope'.", null,
        new JsonObject().put("tool", "nope"));
    await(vertx.eventBus().localConsumer("test.fail", (Message<Object> m) ->
        SnakepitException.replyLocally(m, Future.failedFuture(error), "cid-2")).completion());

    Throwable failure = vertx.eventBus().request("test.fail", new JsonObject()).toCompletionStage()
        .toCompletableFuture().handle((ok, t) -> t instanceof java.util.concurrent.CompletionException c
            ? c.getCause() : t).get(30, TimeUnit.SECONDS);

    assertThat(failure).isInstanceOf(ReplyException.class);
    assertThat(((ReplyException) failure).failureCode()).isEqualTo(404);
    // What code reading the ReplyException itself finds, as when the error crossed the wire.
    assertThat(new JsonObject(failure.getMessage()).getString("code")).isEqualTo("unknown_tool");
    SnakepitException typed = SnakepitException.from(failure);
    assertThat(typed.errorCode()).isEqualTo(ErrorCode.UNKNOWN_TOOL);
    assertThat(typed.correlationId()).isEqualTo("cid-2");
    assertThat(typed.details().getString("tool")).isEqualTo("nope");
  }

  @Test
  void onTheWireARequestIsItsJsonAndComesBackEqual() {
    ExecuteRequest sent = new ExecuteRequest("p", "echo", new JsonObject().put("x", 1), 5_000, "s1", "cid-3",
        ExecuteRequest.Affinity.STRICT_QUEUE);
    Buffer wire = Buffer.buffer();
    ExecuteRequestCodec codec = ExecuteRequestCodec.INSTANCE;
    codec.encodeToWire(wire, sent);
    assertThat(codec.decodeFromWire(0, wire)).isEqualTo(sent);
  }
}
