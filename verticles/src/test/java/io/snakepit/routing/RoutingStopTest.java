package io.snakepit.routing;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.contract.Addresses;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A stopping node says once that it is leaving, and publishes no heartbeat
 * after that. A heartbeat that had begun before the stop (it first asks the
 * supervisor for its pools) and got its answer while the stop was under way
 * used to be published after the "leaving" one:
 * the others put the node back in their rings and, a failure timeout later,
 * reported it lost, a second {@code node.left} (found by ClusterClientTest).
 */
class RoutingStopTest {

  final Vertx vertx = Vertx.vertx();

  @AfterEach
  void close() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  @Test
  void noHeartbeatFollowsTheOneThatSaysTheNodeIsLeaving() throws Exception {
    List<Message<JsonObject>> held = new CopyOnWriteArrayList<>();
    List<JsonObject> heartbeats = new CopyOnWriteArrayList<>();
    AtomicBoolean hold = new AtomicBoolean();
    // Answered at once while the verticle starts (its start waits for a heartbeat); held once it runs.
    vertx.eventBus().<JsonObject>localConsumer(Addresses.POOLS, m -> {
      if (hold.get()) {
        held.add(m);
      } else {
        m.reply(new JsonObject().put("pools", new JsonArray()));
      }
    });
    vertx.eventBus().<JsonObject>consumer(Addresses.RING_HEARTBEAT, m -> {
      heartbeats.add(m.body());
      if (m.body().getBoolean("leaving", false)) {
        // The stop is under way: the heartbeat that began before it gets its answer now.
        held.forEach(h -> h.reply(new JsonObject().put("pools", new JsonArray())));
      }
    });
    String id = await(vertx.deployVerticle(new RoutingVerticle(), new DeploymentOptions().setConfig(
        new JsonObject().put("node-id", "n1").put("heartbeat-ms", 20).put("failure-timeout-ms", 1000))));
    hold.set(true);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (held.isEmpty()) {
      assertThat(System.nanoTime()).as("a heartbeat asks for the pools").isLessThan(deadline);
      Thread.sleep(5);
    }
    await(vertx.undeploy(id));
    long leavingSeen = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (heartbeats.stream().noneMatch(h -> h.getBoolean("leaving", false))) {
      assertThat(System.nanoTime()).as("the leaving heartbeat").isLessThan(leavingSeen);
      Thread.sleep(5);
    }
    // An absence: what the old code sent came within milliseconds of the answer; a second is ample.
    long quiet = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
    while (System.nanoTime() < quiet) {
      Thread.sleep(20);
    }
    int leaving = 0;
    for (int i = 0; i < heartbeats.size(); i++) {
      if (heartbeats.get(i).getBoolean("leaving", false)) {
        leaving = i;
      }
    }
    assertThat(heartbeats.subList(leaving + 1, heartbeats.size())).as("heartbeats after the leaving one")
        .isEmpty();
  }

  static <T> T await(io.vertx.core.Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }
}
