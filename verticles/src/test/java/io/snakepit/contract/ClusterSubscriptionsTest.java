package io.snakepit.contract;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Registering again, on request over the local bus, keeps exactly one consumer per subscription. */
class ClusterSubscriptionsTest {

  static void until(Duration deadline, java.util.function.BooleanSupplier condition) throws InterruptedException {
    long end = System.nanoTime() + deadline.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > end) {
        throw new AssertionError("condition not met within " + deadline);
      }
      Thread.sleep(10);
    }
  }

  @Test
  void aResubscribeRequestRegistersEveryConsumerAgainWithoutDoublingIt() throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      AtomicInteger received = new AtomicInteger();
      ClusterSubscriptions subs = new ClusterSubscriptions(vertx);
      subs.add("test.subscription", m -> received.incrementAndGet()).await();
      vertx.eventBus().publish("test.subscription", new JsonObject());
      until(Duration.ofSeconds(10), () -> received.get() == 1);

      vertx.eventBus().publish(Addresses.RESUBSCRIBE, new JsonObject(), new DeliveryOptions().setLocalOnly(true));
      // The renewal runs on the bus; a marker message sent after it shows when it has been handled.
      AtomicInteger marker = new AtomicInteger();
      vertx.eventBus().localConsumer("test.marker", m -> marker.incrementAndGet()).completion().await();
      vertx.eventBus().send("test.marker", "after");
      until(Duration.ofSeconds(10), () -> marker.get() == 1);
      vertx.eventBus().publish("test.subscription", new JsonObject());
      vertx.eventBus().send("test.marker", "after the second publish");
      until(Duration.ofSeconds(10), () -> marker.get() == 2);
      until(Duration.ofSeconds(10), () -> received.get() >= 2);
      // One consumer, not two: the old registration went when the new one came.
      assertThat(received.get()).isEqualTo(2);

      subs.close().await();
      vertx.eventBus().publish("test.subscription", new JsonObject());
      vertx.eventBus().send("test.marker", "after close");
      until(Duration.ofSeconds(10), () -> marker.get() == 3);
      assertThat(received.get()).isEqualTo(2);
    } finally {
      vertx.close().await();
    }
  }

  /** Found by the fuzzer (tests/fuzz.sh): a String sent by another member threw in the handler and got no reply. */
  @Test
  void aRequestWhoseBodyIsNotAJsonObjectGetsATypedBadRequestAndNeverReachesTheHandler() throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      AtomicInteger handled = new AtomicInteger();
      ClusterSubscriptions subs = new ClusterSubscriptions(vertx);
      subs.add("test.json", m -> {
        handled.incrementAndGet();
        m.reply(m.body().getString("x"));
      }).await();
      for (Object body : new Object[] {"text", 42, io.vertx.core.buffer.Buffer.buffer("b"), null,
          new io.vertx.core.json.JsonArray()}) {
        Throwable t = vertx.eventBus().request("test.json", body, new DeliveryOptions()
            .addHeader(Headers.CORRELATION_ID, "cid-1").setSendTimeout(10_000)).toCompletionStage()
            .toCompletableFuture().handle((r, e) -> e).get();
        SnakepitException typed = SnakepitException.from(t instanceof java.util.concurrent.CompletionException
            ? t.getCause() : t);
        assertThat(typed.errorCode()).as("reply to %s", body).isEqualTo(ErrorCode.BAD_REQUEST);
        assertThat(typed.correlationId()).isEqualTo("cid-1");
      }
      assertThat(vertx.eventBus().request("test.json", new JsonObject().put("x", "ok")).await().body())
          .isEqualTo("ok");
      assertThat(handled.get()).isEqualTo(1);
    } finally {
      vertx.close().await();
    }
  }
}
