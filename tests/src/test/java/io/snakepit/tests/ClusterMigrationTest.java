package io.snakepit.tests;

import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.core.HazelcastInstance;
import io.snakepit.tests.harness.CliProcess;
import io.snakepit.tests.harness.Cluster;
import io.snakepit.tests.harness.Http;
import io.snakepit.tests.harness.NodeProcess;
import io.snakepit.tests.harness.Poll;
import io.snakepit.tests.harness.WriteLoad;
import io.vertx.core.Vertx;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.json.JsonObject;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A cluster-wide live migration (docs/migration.md): three nodes sharing one Hazelcast map move their sessions
 * to another map (two backups instead of one, which Hazelcast cannot change on a live map) under a write load
 * on every node, a fourth node joining during the backfill; then a second migration is rolled back from
 * cutover under load. Every node must follow every step, and no acknowledged write may be lost.
 */
@ExtendWith(PrintNodeLogsOnFailure.class)
class ClusterMigrationTest {

  private static final int SESSIONS = 600;

  @Test
  void everyNodeMovesTogetherAndNoAcknowledgedWriteIsLost() throws Exception {
    try (Cluster c = new Cluster().start(3)) {
      List<NodeProcess> nodes = new ArrayList<>(c.nodes());
      String base = nodes.get(0).baseUrl();
      List<String> ids = new ArrayList<>();
      for (int i = 0; i < SESSIONS; i++) {
        ids.add("cm-" + i);
        assertThat(Http.post(base + "/v1/sessions", "{\"id\":\"cm-" + i + "\"}").statusCode()).isEqualTo(201);
      }
      c.awaitSafe();
      // Each node writes a third of the sessions: the writes of every node must reach both maps.
      Map<String, List<String>> groups = new LinkedHashMap<>();
      for (int k = 0; k < 3; k++) {
        groups.put(nodes.get(k).baseUrl(), new ArrayList<>(ids.subList(k * 20, k * 20 + 20)));
      }
      JsonObject settings = new JsonObject().put("map-name", "snakepit-sessions-v2").put("backup-count", 2);
      NodeProcess coordinator = nodes.get(1);
      try (WriteLoad load = WriteLoad.across(groups)) {
        Poll.until("the load is acknowledged", Cluster.DEADLINE, () -> load.acknowledged() > 100);

        HttpResponse<String> started = Http.post(coordinator.baseUrl() + "/v1/admin/migration",
            new JsonObject().put("to", "hazelcast").put("settings", settings).encode());
        assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
        JsonObject st = new JsonObject(started.body());
        assertThat(st.getString("scope")).isEqualTo("cluster");
        assertThat(st.getString("coordinator")).isEqualTo(coordinator.nodeId());

        // A second start, asked of another node, is refused by the coordinator and changes nothing.
        HttpResponse<String> again = Http.post(nodes.get(2).baseUrl() + "/v1/admin/migration",
            new JsonObject().put("to", "hazelcast").put("settings", settings).encode());
        assertThat(again.statusCode()).as(again.body()).isEqualTo(409);

        // A node joining while the cluster migrates writes both maps from its first write.
        NodeProcess joined = c.join();
        nodes.add(joined);
        c.awaitRing(4);
        assertThat(status(joined).getJsonObject("nodes").getJsonObject(joined.nodeId()).getString("phase"))
            .isIn("backfill", "verified");
        List<String> late = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
          String id = "cm-late-" + i;
          late.add(id);
          assertThat(Http.post(joined.baseUrl() + "/v1/sessions", "{\"id\":\"" + id + "\"}").statusCode())
              .isEqualTo(201);
          assertThat(Http.post(joined.baseUrl() + "/v1/sessions/" + id + "/variables/n/increment", "{}")
              .statusCode()).isEqualTo(200);
        }

        Poll.until("the backfill is done", Cluster.DEADLINE, () -> status(coordinator)
            .getJsonObject("backfill").getBoolean("done", false));
        verifyPasses(nodes.get(0));
        assertThat(Http.post(nodes.get(2).baseUrl() + "/v1/admin/migration/cutover", "{}").statusCode())
            .isEqualTo(200);
        assertThat(phases(status(nodes.get(0)))).containsOnly("cutover").hasSize(4);
        long before = load.acknowledged();
        Poll.until("writes go on in cutover", Cluster.DEADLINE, () -> load.acknowledged() > before + 100);
        // The operator's CLI, asked of the node that joined last: the commit goes to every node.
        assertThat(cli("migrate", "commit", "--url", joined.baseUrl())).startsWith("phase committed");
        assertThat(phases(status(nodes.get(0)))).containsOnly("committed").hasSize(4);
        String printed = cli("migrate", "status", "--url", nodes.get(2).baseUrl());
        assertThat(printed).contains("coordinated by " + coordinator.nodeId());
        for (NodeProcess n : nodes) {
          assertThat(printed).contains("  " + n.nodeId() + " committed");
        }
        long committed = load.acknowledged();
        Poll.until("writes go on after the commit", Cluster.DEADLINE, () -> load.acknowledged() > committed + 100);
        load.close();
        for (NodeProcess n : nodes) {
          assertThat(load.lost(n.baseUrl())).as("acknowledged writes lost, read on " + n.nodeId()).isEmpty();
          for (String id : late) {
            HttpResponse<String> r = Http.get(n.baseUrl() + "/v1/sessions/" + id + "/variables");
            assertThat(r.statusCode()).as(id + " on " + n.nodeId() + ": " + r.body()).isEqualTo(200);
            assertThat(new JsonObject(r.body()).getJsonObject("variables").getLong("n")).isEqualTo(1L);
          }
        }
      }
      // The sessions are in the new map, every one of them.
      Vertx app = c.joinAsApplication();
      try {
        HazelcastInstance hz = ((HazelcastClusterManager) ((VertxInternal) app).clusterManager())
            .getHazelcastInstance();
        assertThat(hz.getMap("snakepit-sessions-v2").size()).isEqualTo(SESSIONS + 20);
      } finally {
        app.close().await();
      }

      // A second migration, coordinated by the node that joined last, which is SIGKILLed once the backfill is
      // done: another node takes over (repairing from the start), then it is rolled back from cutover under load.
      // Every node left reads the v2 map again, complete.
      Map<String, List<String>> groups2 = new LinkedHashMap<>();
      for (int k = 0; k < 3; k++) {
        groups2.put(nodes.get(k).baseUrl(), new ArrayList<>(ids.subList(100 + k * 20, 120 + k * 20)));
      }
      try (WriteLoad load = WriteLoad.across(groups2)) {
        Poll.until("the second load is acknowledged", Cluster.DEADLINE, () -> load.acknowledged() > 100);
        NodeProcess first = nodes.get(3);
        assertThat(Http.post(first.baseUrl() + "/v1/admin/migration", new JsonObject().put("to", "hazelcast")
            .put("settings", new JsonObject().put("map-name", "snakepit-sessions-v3")).encode()).statusCode())
            .isEqualTo(202);
        Poll.until("the second backfill is done", Cluster.DEADLINE, () -> status(nodes.get(0))
            .getJsonObject("backfill").getBoolean("done", false));
        c.awaitSafe();
        first.signal("KILL");
        first.process().waitFor();
        nodes.remove(first);
        NodeProcess second = nodes.get(0);
        // Asked once the coordinator has left the view, the node takes over and repairs the stores from the start.
        Poll.until("another node coordinates, its repair done", Cluster.DEADLINE, () -> {
          HttpResponse<String> r = Http.get(second.baseUrl() + "/v1/admin/migration");
          if (r.statusCode() != 200) {
            return false; // the coordinator is gone, and not yet out of the view
          }
          JsonObject st = new JsonObject(r.body());
          return second.nodeId().equals(st.getString("coordinator"))
              && st.getJsonObject("backfill").getBoolean("done", false);
        });
        assertThat(phases(status(second))).containsOnly("backfill").hasSize(3);
        assertThat(Http.post(nodes.get(0).baseUrl() + "/v1/admin/migration/cutover", "{}").statusCode())
            .isEqualTo(200);
        long cut = load.acknowledged();
        Poll.until("writes go on in cutover", Cluster.DEADLINE, () -> load.acknowledged() > cut + 100);
        assertThat(Http.post(nodes.get(2).baseUrl() + "/v1/admin/migration/rollback", "{}").statusCode())
            .isEqualTo(200);
        assertThat(phases(status(nodes.get(1)))).containsOnly("rolled_back").hasSize(3);
        long rolled = load.acknowledged();
        Poll.until("writes go on after the rollback", Cluster.DEADLINE, () -> load.acknowledged() > rolled + 100);
        load.close();
        for (NodeProcess n : nodes) {
          assertThat(load.lost(n.baseUrl())).as("acknowledged writes lost, read on " + n.nodeId()).isEmpty();
        }
      }
    }
  }

  /** Runs {@code snakepit ARGS...} in a new JVM; answers its standard output, once it exited 0. */
  private static String cli(String... args) throws Exception {
    CliProcess run = CliProcess.run(Cluster.DEADLINE, java.util.Map.of(), args);
    assertThat(run.code()).as(run.toString()).isZero();
    return run.out();
  }

  private static JsonObject status(NodeProcess n) throws Exception {
    HttpResponse<String> r = Http.get(n.baseUrl() + "/v1/admin/migration");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return new JsonObject(r.body());
  }

  private static List<String> phases(JsonObject status) {
    List<String> out = new ArrayList<>();
    status.getJsonObject("nodes").forEach(e -> out.add(((JsonObject) e.getValue()).getString("phase")));
    return out;
  }

  private static void verifyPasses(NodeProcess n) throws Exception {
    HttpResponse<String> r = Http.post(n.baseUrl() + "/v1/admin/migration/verify", "{}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(202);
    Poll.until("the verify is done", Cluster.DEADLINE, () -> {
      JsonObject v = status(n).getJsonObject("verify");
      return v != null && "done".equals(v.getString("state"));
    });
    JsonObject v = status(n).getJsonObject("verify");
    assertThat(v.getBoolean("passed")).as(v.encode()).isTrue();
    assertThat(v.getInteger("differences_count")).isZero();
  }
}
