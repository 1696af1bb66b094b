package io.snakepit.session.hazelcast;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.contract.Addresses;
import io.snakepit.session.SessionStoreVerticle;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The session store's {@code import} op on the event bus, on both adapters the
 * node ships (memory, and Hazelcast on a member of a test cluster): a session
 * deleted after the export is skipped and reported as such, not counted as
 * imported; imported into an empty store, every session comes back.
 */
class ImportReportTest {

  static TestCluster cluster;
  Vertx vertx;
  int maps;

  @BeforeAll
  static void startCluster() {
    cluster = new TestCluster().start(1, 0);
  }

  @AfterAll
  static void stopCluster() {
    cluster.close();
  }

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
  }

  @AfterEach
  void stop() throws Exception {
    await(vertx.close());
  }

  static <T> T await(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
  }

  /** Deploys a session store with the adapter, on a store (a Hazelcast map) of its own; returns its id. */
  String deployStore(String adapter) throws Exception {
    JsonObject sessions = new JsonObject().put("adapter", adapter);
    if (adapter.equals("memory")) {
      sessions.put("memory", new JsonObject().put("persistence", false));
    } else {
      sessions.put("hazelcast", new JsonObject().put("map-name", "import-" + maps++)
          .put("instance-name", cluster.members.get(0).getName()));
    }
    return await(vertx.deployVerticle(new SessionStoreVerticle(), new DeploymentOptions().setConfig(
        new JsonObject().put("node-id", "n1").put("sessions", sessions))));
  }

  JsonObject op(String op, JsonObject body) throws Exception {
    return await(vertx.eventBus().<JsonObject>request(Addresses.SESSION_PREFIX + op, body)).body();
  }

  @ParameterizedTest
  @ValueSource(strings = {"memory", "hazelcast"})
  void sessionsDeletedAfterTheExportAreSkippedAndSaidSoAndAFreshStoreImportsThemAll(String adapter)
      throws Exception {
    String store = deployStore(adapter);
    for (String id : new String[] {"a", "b", "c", "d", "e"}) {
      op("create", new JsonObject().put("id", id));
      op("var.put", new JsonObject().put("id", id).put("name", "v").put("value", id));
    }
    JsonArray export = op("export", new JsonObject().put("limit", 100)).getJsonArray("sessions");
    assertThat(export).hasSize(5);
    for (String id : new String[] {"a", "b", "c", "d"}) {
      assertThat(op("delete", new JsonObject().put("id", id)).getBoolean("deleted")).isTrue();
    }

    JsonObject report = op("import", new JsonObject().put("sessions", export));
    assertThat(report.getInteger("imported")).as(report.encode()).isEqualTo(1); // e, still there: merged
    assertThat(report.getInteger("skipped")).isEqualTo(4);
    assertThat(report.getJsonObject("skipped_reasons")).isEqualTo(new JsonObject().put("deleted", 4));
    assertThat(report.getJsonArray("skipped_sessions").stream().map(o -> ((JsonObject) o).getString("id")))
        .containsExactlyInAnyOrder("a", "b", "c", "d");
    assertThat(report.getJsonArray("skipped_sessions").getJsonObject(0).getString("reason")).isEqualTo("deleted");
    assertThat(report.getInteger("failed")).isZero();
    assertThat(op("count", new JsonObject()).getLong("count")).isEqualTo(1L);

    // Created again, a deleted session takes the export's content: the way to restore one before tombstone-ttl-s.
    op("create", new JsonObject().put("id", "a"));
    JsonObject again = op("import", new JsonObject().put("sessions", export));
    assertThat(again.getInteger("imported")).as(again.encode()).isEqualTo(2);
    assertThat(again.getInteger("skipped")).isEqualTo(3);
    assertThat(op("var.get", new JsonObject().put("id", "a").put("name", "v")).getString("value")).isEqualTo("a");

    // Into an empty store (a fresh node), everything is imported and nothing skipped.
    await(vertx.undeploy(store));
    deployStore(adapter);
    JsonObject fresh = op("import", new JsonObject().put("sessions", export));
    assertThat(fresh.getInteger("imported")).as(fresh.encode()).isEqualTo(5);
    assertThat(fresh.getInteger("skipped")).isZero();
    assertThat(fresh.getJsonArray("skipped_sessions")).isEmpty();
    assertThat(op("count", new JsonObject()).getLong("count")).isEqualTo(5L);
    assertThat(op("var.get", new JsonObject().put("id", "c").put("name", "v")).getString("value")).isEqualTo("c");
  }

  @ParameterizedTest
  @ValueSource(strings = {"memory", "hazelcast"})
  void aSessionWhoseTtlRanOutBeforeTheImportIsSkippedAsExpired(String adapter) throws Exception {
    deployStore(adapter);
    op("create", new JsonObject().put("id", "old"));
    JsonObject copy = op("export", new JsonObject()).getJsonArray("sessions").getJsonObject(0);
    op("delete", new JsonObject().put("id", "old"));
    // The same session as an export taken long ago would hold it: last accessed two hours back, one hour TTL.
    long twoHoursAgo = System.currentTimeMillis() - 7_200_000;
    copy.put("id", "older").put("created_at", twoHoursAgo).put("accessed_at", twoHoursAgo).put("ttl_ms", 3_600_000);
    JsonObject report = op("import", new JsonObject().put("sessions", new JsonArray().add(copy)));
    assertThat(report.getInteger("imported")).as(report.encode()).isZero();
    assertThat(report.getInteger("skipped")).isEqualTo(1);
    assertThat(report.getJsonObject("skipped_reasons")).isEqualTo(new JsonObject().put("expired", 1));
    assertThat(op("exists", new JsonObject().put("id", "older")).getBoolean("exists")).isFalse();
  }
}
