package io.snakepit.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.contract.Addresses;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.Headers;
import io.snakepit.contract.SnakepitException;
import io.snakepit.contract.StreamLiveness;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A stream whose running node goes silent (its {@code end} lost: it was cut
 * off from the consumer's node) fails with a typed {@code node_lost} and is
 * cancelled, instead of leaving its client waiting forever, as the chaos
 * harness found (tests/chaos.sh --seed 1). A quiet stream whose node keeps
 * saying it is alive runs on. The node running the stream is played here by
 * a consumer of {@code snakepit.stream.open} that follows the protocol
 * (docs/event-bus.md): the real one is exercised by the cluster tests.
 */
class StreamBridgeLivenessTest {

  Vertx vertx;
  final List<JsonObject> control = new CopyOnWriteArrayList<>();

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
    vertx.eventBus().<JsonObject>consumer("ctl-1", m -> control.add(m.body()));
  }

  @AfterEach
  void stop() {
    vertx.close().await();
  }

  /** What the bridge told its client. */
  static final class Recorder implements StreamBridge.Client {
    final CompletableFuture<SnakepitException> error = new CompletableFuture<>();
    final CompletableFuture<Void> ended = new CompletableFuture<>();

    @Override
    public void onStart(String worker, String node) {
    }

    @Override
    public void onItem(Object item) {
    }

    @Override
    public void onEnd() {
      ended.complete(null);
    }

    @Override
    public void onError(SnakepitException e) {
      error.complete(e);
    }

    @Override
    public boolean writable() {
      return true;
    }
  }

  /** Plays the running node: answers the open, starts, says it is alive {@code alives} times, then maybe ends. */
  void runningNode(int alives, long everyMs, boolean end) {
    vertx.eventBus().<JsonObject>consumer(Addresses.STREAM_OPEN, m -> {
      String sink = m.body().getString("sink");
      m.reply(new JsonObject().put("control", "ctl-1"));
      vertx.eventBus().send(sink, new JsonObject().put("type", "start").put("worker", "w").put("node", "node-x"));
      int[] sent = {0};
      vertx.setPeriodic(1, everyMs, t -> {
        if (sent[0]++ < alives) {
          vertx.eventBus().request(sink, new JsonObject().put("type", StreamLiveness.ALIVE));
        } else {
          vertx.cancelTimer(t);
          if (end) {
            vertx.eventBus().send(sink, new JsonObject().put("type", "end"));
          }
        }
      });
    });
  }

  void open(Recorder r) {
    vertx.runOnContext(v -> new StreamBridge(vertx, r).open(new JsonObject().put("tool", "count"),
        new DeliveryOptions().addHeader(Headers.CORRELATION_ID, "cid-1")));
  }

  @Test
  void aStreamWhoseNodeFallsSilentFailsWithNodeLostAndIsCancelled() throws Exception {
    runningNode(1, 100, false);
    Recorder r = new Recorder();
    open(r);
    SnakepitException e = r.error.get(StreamLiveness.SILENCE_MS * 4, TimeUnit.MILLISECONDS);
    assertThat(e.errorCode()).isEqualTo(ErrorCode.NODE_LOST);
    assertThat(e.correlationId()).isEqualTo("cid-1");
    assertThat(e.details().getString("outcome")).isEqualTo("unknown");
    assertThat(e.getMessage()).contains("node-x");
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!control.contains(new JsonObject().put("cancel", true)) && System.nanoTime() < deadline) {
      Thread.sleep(20); // polling, with a deadline
    }
    assertThat(control).as("the running node is told to cancel").contains(new JsonObject().put("cancel", true));
    assertThat(r.ended).isNotDone();
  }

  @Test
  void aStreamThatNeverHearsFromItsNodeAfterTheOpenFails() throws Exception {
    // The sink was registered while its node was split from the cluster: the merged cluster never learnt of it,
    // so no event reaches it, not even a keep-alive. The open's answer said keep-alives would come.
    vertx.eventBus().<JsonObject>consumer(Addresses.STREAM_OPEN, m -> m.reply(new JsonObject()
        .put("control", "ctl-1").put(StreamLiveness.OPEN_FIELD, StreamLiveness.INTERVAL_MS)));
    Recorder r = new Recorder();
    open(r);
    SnakepitException e = r.error.get(StreamLiveness.SILENCE_MS * 4, TimeUnit.MILLISECONDS);
    assertThat(e.errorCode()).isEqualTo(ErrorCode.NODE_LOST);
    assertThat(e.details().getString("outcome")).isEqualTo("unknown");
  }

  @Test
  void aQuietStreamWhoseNodeKeepsSayingItIsAliveRunsOn() throws Exception {
    long every = 500;
    runningNode((int) (2 * StreamLiveness.SILENCE_MS / every), every, true);
    Recorder r = new Recorder();
    open(r);
    r.ended.get(StreamLiveness.SILENCE_MS * 4, TimeUnit.MILLISECONDS);
    assertThat(r.error).isNotDone();
  }
}
