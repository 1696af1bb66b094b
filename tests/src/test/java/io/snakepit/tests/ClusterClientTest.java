package io.snakepit.tests;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.client.Call;
import io.snakepit.client.ExecuteResult;
import io.snakepit.client.SnakepitClient;
import io.snakepit.tests.harness.Cluster;
import io.snakepit.tests.harness.Http;
import io.snakepit.tests.harness.NodeProcess;
import io.snakepit.tests.harness.Poll;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A Vert.x application that joins the cluster (this test's JVM, as a
 * Hazelcast lite member with a clustered event bus) and uses
 * {@link SnakepitClient}: calls in a session reach the session's owner, which
 * the client finds on its own copy of the ring; sessions created through the
 * client are everyone's; and the events of the whole cluster reach its
 * subscriber, one per happening: nodes joining, draining, leaving and being
 * lost. (A node frozen and coming back is ClusterFailoverTest's: with two
 * nodes left, the Hazelcast merge after the freeze can drop event-bus
 * subscriptions, eclipse-vertx/vert.x#4394, which this test would then
 * measure instead of the events.)
 */
@org.junit.jupiter.api.extension.ExtendWith(PrintNodeLogsOnFailure.class)
class ClusterClientTest {

  static final Duration DEADLINE = Duration.ofSeconds(90);

  @Test
  void anApplicationOnTheClusterReachesOwnersAndFollowsTheClustersEvents() throws Exception {
    try (Cluster c = new Cluster().start(3)) {
      Vertx vertx = c.joinAsApplication();
      List<JsonObject> events = new CopyOnWriteArrayList<>();
      try {
        SnakepitClient client = SnakepitClient.create(vertx);
        MessageConsumer<JsonObject> subscription = client.events(events::add);
        subscription.completion().await();

        for (int i = 0; i < 12; i++) {
          String id = "app-" + i;
          assertThat(client.createSession(id, 600, null).await().getString("id")).isEqualTo(id);
          String owner = Http.getJson(c.node(0).baseUrl() + "/v1/sessions/" + id).getString("owner");
          ExecuteResult r = client.execute(new Call("echo").session(id).args(new JsonObject().put("i", i))).await();
          assertThat(r.node()).as("the node that ran a call in " + id).isEqualTo(owner);
          assertThat(((JsonObject) r.result()).getInteger("i")).isEqualTo(i);
          assertThat(client.putVariable(id, "x", i).await()).isPositive();
        }
        // A plain event-bus request, without headers, to a node that is not the session's owner: forwarded.
        String owner0 = Http.getJson(c.node(0).baseUrl() + "/v1/sessions/app-0").getString("owner");
        NodeProcess notOwner = c.nodes().stream().filter(n -> !n.nodeId().equals(owner0)).findFirst().orElseThrow();
        JsonObject forwarded = vertx.eventBus().<JsonObject>request(
            io.snakepit.contract.Addresses.node(notOwner.nodeId(), "execute"),
            new JsonObject().put("tool", "echo").put("session_id", "app-0").put("args", new JsonObject().put("f", 1)),
            new io.vertx.core.eventbus.DeliveryOptions().setSendTimeout(30_000)).await().body();
        assertThat(forwarded.getString("node")).isEqualTo(owner0);
        assertThat(forwarded.getJsonObject("result").getInteger("f")).isEqualTo(1);
        // What the application wrote is the cluster's: any node serves it.
        assertThat(Http.getJson(c.node(2).baseUrl() + "/v1/sessions/app-5/variables/x").getInteger("value"))
            .isEqualTo(5);
        Poll.until("session.created events reach the application", DEADLINE, () -> events.stream()
            .filter(e -> "session.created".equals(e.getString("type"))).count() >= 12);

        // A node joins: one node.joined event, from the node itself.
        NodeProcess fourth = c.join();
        c.awaitRing(4);
        Poll.until("node.joined for " + fourth.nodeId(), DEADLINE, () -> count(events, "node.joined", fourth) >= 1);
        // A node drains and stops: node.draining from it, then one node.left reported by a remaining node.
        fourth.signal("TERM");
        assertThat(fourth.process().waitFor(DEADLINE.toSeconds(), TimeUnit.SECONDS)).isTrue();
        Poll.until("node.left for " + fourth.nodeId(), DEADLINE, () -> count(events, "node.left", fourth) >= 1);
        assertThat(count(events, "node.draining", fourth)).isEqualTo(1);
        // A node is killed: one node.left, once the others have noticed.
        NodeProcess victim = c.node(2);
        victim.signal("KILL");
        victim.process().waitFor();
        Poll.until("node.left for " + victim.nodeId(), DEADLINE, () -> count(events, "node.left", victim) >= 1);
        c.awaitRing(2);
        JsonObject left = events.stream().filter(e -> "node.left".equals(e.getString("type"))
            && victim.nodeId().equals(e.getString("node"))).findFirst().orElseThrow();
        assertThat(left.getString("reason")).isEqualTo("lost");
        assertThat(left.getString("reported_by")).isIn(c.node(0).nodeId(), c.node(1).nodeId());

        // One event per happening, not one per node that saw it.
        assertThat(count(events, "node.joined", fourth)).isEqualTo(1);
        assertThat(count(events, "node.left", fourth)).isEqualTo(1);
        assertThat(count(events, "node.left", victim)).isEqualTo(1);

        // The client's calls follow the new ring.
        for (int i = 0; i < 12; i++) {
          String id = "app-" + i;
          String owner = Http.getJson(c.node(0).baseUrl() + "/v1/sessions/" + id).getString("owner");
          Poll.until("a call in " + id + " runs on its owner " + owner, DEADLINE,
              () -> owner.equals(client.execute(new Call("echo").session(id)).await().node()));
        }
        client.close();
      } finally {
        vertx.close().await();
      }
    }
  }

  static long count(List<JsonObject> events, String type, NodeProcess about) {
    return events.stream().filter(e -> type.equals(e.getString("type")) && about.nodeId().equals(e.getString("node")))
        .count();
  }
}
