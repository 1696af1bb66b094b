package io.snakepit.session.hazelcast;

import static io.snakepit.session.hazelcast.TestCluster.get;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.hazelcast.config.Config;
import com.hazelcast.config.InMemoryFormat;
import com.hazelcast.config.MapConfig;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import io.snakepit.config.ConfigException;
import io.snakepit.session.SessionLimits;
import io.snakepit.session.SessionStore;
import io.snakepit.session.SessionStoreFactory;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.spi.cluster.hazelcast.HazelcastClusterManager;
import java.util.List;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

/** Finding the factory, configuring Hazelcast, and which member the store uses and owns. */
class HazelcastSessionStoreFactoryTest {

  @Test
  void isFoundByServiceLoaderBesideMemory() {
    assertThat(ServiceLoader.load(SessionStoreFactory.class).stream().map(p -> p.get().name()))
        .contains("memory", "hazelcast");
  }

  @Test
  void mapConfigAndConfigure() {
    MapConfig mc = HazelcastSessionStoreFactory.mapConfig("m", 2);
    assertThat(mc.getBackupCount()).isEqualTo(2);
    assertThat(mc.getAsyncBackupCount()).isZero();
    assertThat(mc.getInMemoryFormat()).isEqualTo(InMemoryFormat.BINARY);
    assertThat(mc.getMergePolicyConfig().getPolicy()).isEqualTo(HlcMergePolicy.class.getName());
    Config c = HazelcastSessionStoreFactory.configure(new Config(), new JsonObject().put("map-name", "x"));
    assertThat(c.getMapConfigOrNull("x")).isNotNull();
    assertThat(c.getSerializationConfig().getDataSerializableFactories())
        .containsKey(SessionDataSerializableFactory.FACTORY_ID);
    assertThat(c.getProperty(HazelcastSessionStoreFactory.MERGE_FIRST_RUN_DELAY_PROPERTY)).isEqualTo("3");
    assertThatThrownBy(() -> HazelcastSessionStoreFactory.configure(new Config(), new JsonObject().put("nope", 1)))
        .isInstanceOf(ConfigException.class).hasMessageContaining("sessions.hazelcast.nope");
    assertThatThrownBy(() -> HazelcastSessionStoreFactory.configure(new Config(),
        new JsonObject().put("embedded", new JsonObject().put("members", new JsonArray().add(3)))))
        .isInstanceOf(ConfigException.class).hasMessageContaining("members[0]");
  }

  /**
   * An embedded member that joins the nodes' cluster (a single node migrating into it) beats as often as the nodes'
   * own members (config/cluster.xml): at Hazelcast's default of a beat in 5 s against their 5 s timeout, the nodes
   * dropped it whenever a beat came a little late, and the migrating node's writes then hung.
   */
  @Test
  void anEmbeddedMemberHasTheNodesFailureDetection() throws Exception {
    Config embedded = HazelcastSessionStoreFactory.embeddedConfig(new JsonObject());
    Config nodes = new com.hazelcast.config.XmlConfigBuilder(java.nio.file.Files.newInputStream(
        java.nio.file.Path.of("..", "config", "cluster.xml"))).build();
    for (String p : List.of("hazelcast.heartbeat.interval.seconds", "hazelcast.max.no.heartbeat.seconds")) {
      assertThat(embedded.getProperty(p)).as(p).isNotNull().isEqualTo(nodes.getProperty(p));
    }
  }

  @Test
  void startsAnEmbeddedMemberAndShutsItDownOnClose() {
    Vertx vertx = Vertx.vertx();
    TestCluster tc = new TestCluster();
    try {
      JsonObject cfg = new JsonObject().put("backup-count", 0).put("embedded", new JsonObject()
          .put("cluster-name", tc.clusterName).put("port", tc.basePort).put("interface", "127.0.0.1")
          .put("members", new JsonArray().add("127.0.0.1:" + tc.basePort)));
      SessionStore store = get(new HazelcastSessionStoreFactory().create(vertx,
          TestCluster.settings("n1", SessionLimits.defaults()), cfg));
      HazelcastInstance hz = ((HazelcastSessionStore) store).hazelcast();
      assertThat(hz.getConfig().getClusterName()).isEqualTo(tc.clusterName);
      get(store.create("e1", 0, null));
      assertThat(get(store.stats()).getBoolean("embedded")).isTrue();
      assertThat(get(store.health()).getString("status")).isEqualTo("UP");
      get(store.close());
      assertThat(hz.getLifecycleService().isRunning()).isFalse();
    } finally {
      get(vertx.close());
      tc.close();
    }
  }

  /**
   * {@code embedded.lite-member}: the embedded member joins a cluster without holding any of its data (the source
   * node of a migration to a cluster writes into the cluster's map, and can be retired after the commit). Writes
   * through it land on the data member; its store opens, counts and answers health like any other.
   */
  @Test
  void embeddedLiteMemberJoinsAndHoldsNoData() {
    Vertx dataVertx = Vertx.vertx();
    Vertx liteVertx = Vertx.vertx();
    TestCluster tc = new TestCluster();
    JsonArray members = new JsonArray().add("127.0.0.1:" + tc.basePort).add("127.0.0.1:" + (tc.basePort + 1));
    try {
      SessionStore data = get(new HazelcastSessionStoreFactory().create(dataVertx,
          TestCluster.settings("n1", SessionLimits.defaults()), new JsonObject().put("embedded", new JsonObject()
              .put("cluster-name", tc.clusterName).put("port", tc.basePort).put("port-auto-increment", false)
              .put("interface", "127.0.0.1").put("members", members))));
      SessionStore lite = get(new HazelcastSessionStoreFactory().create(liteVertx,
          TestCluster.settings("n2", SessionLimits.defaults()), new JsonObject().put("embedded", new JsonObject()
              .put("cluster-name", tc.clusterName).put("port", tc.basePort + 1).put("port-auto-increment", false)
              .put("interface", "127.0.0.1").put("members", members).put("lite-member", true))));
      HazelcastInstance dataHz = ((HazelcastSessionStore) data).hazelcast();
      HazelcastInstance liteHz = ((HazelcastSessionStore) lite).hazelcast();
      assertThat(dataHz.getCluster().getLocalMember().isLiteMember()).isFalse();
      assertThat(liteHz.getCluster().getLocalMember().isLiteMember()).isTrue();
      assertThat(liteHz.getCluster().getMembers()).hasSize(2);
      for (int i = 0; i < 20; i++) {
        get(lite.create("l" + i, 0, null));
        assertThat(get(lite.increment("l" + i, "n", 2))).isEqualTo(2L);
      }
      assertThat(((Number) get(data.get("l7")).variable("n")).longValue()).isEqualTo(2L);
      assertThat(get(lite.count())).isEqualTo(20L);
      assertThat(((HazelcastSessionStore) lite).map().getLocalMapStats().getOwnedEntryCount()).isZero();
      assertThat(((HazelcastSessionStore) data).map().getLocalMapStats().getOwnedEntryCount()).isEqualTo(20L);
      assertThat(get(lite.health()).getString("status")).isEqualTo("UP");
      // The lite member leaving moves no data: the sessions stay on the data member.
      get(lite.close());
      assertThat(liteHz.getLifecycleService().isRunning()).isFalse();
      assertThat(get(data.count())).isEqualTo(20L);
      get(data.close());
    } finally {
      get(liteVertx.close());
      get(dataVertx.close());
      tc.close();
    }
  }

  @Test
  void liteMemberMustBeABoolean() {
    assertThatThrownBy(() -> HazelcastSessionStoreFactory.configure(new Config(), new JsonObject()
        .put("embedded", new JsonObject().put("lite-member", "yes"))))
        .isInstanceOf(ConfigException.class).hasMessageContaining("lite-member");
    assertThat(HazelcastSessionStoreFactory.embeddedConfig(new JsonObject()).isLiteMember()).isFalse();
    assertThat(HazelcastSessionStoreFactory.embeddedConfig(new JsonObject().put("lite-member", true))
        .isLiteMember()).isTrue();
  }

  @Test
  void usesTheClusterManagersMemberAndLeavesItRunning() {
    TestCluster tc = new TestCluster();
    Config c = tc.config(1);
    Vertx vertx = get(Vertx.builder().withClusterManager(new HazelcastClusterManager(c)).buildClustered());
    try {
      HazelcastInstance hz = HazelcastSessionStoreFactory.clusterInstance(vertx);
      assertThat(hz).isNotNull();
      SessionStore store = get(new HazelcastSessionStoreFactory().create(vertx,
          TestCluster.settings("n1", SessionLimits.defaults()), new JsonObject()));
      assertThat(((HazelcastSessionStore) store).hazelcast()).isSameAs(hz);
      get(store.create("c1", 0, null));
      assertThat(get(store.exists("c1"))).isTrue();
      get(store.close());
      assertThat(hz.getLifecycleService().isRunning()).isTrue();
    } finally {
      get(vertx.close());
    }
  }

  @Test
  void namedInstanceWithoutTheSerializationFactoryIsRefused() {
    Vertx vertx = Vertx.vertx();
    TestCluster tc = new TestCluster();
    Config c = tc.config(1);
    c.getSerializationConfig().getDataSerializableFactories().clear();
    HazelcastInstance hz = tc.start(c);
    try {
      assertThatThrownBy(() -> get(new HazelcastSessionStoreFactory().create(vertx,
          TestCluster.settings("n1", SessionLimits.defaults()),
          new JsonObject().put("instance-name", hz.getName()))))
          .isInstanceOf(ConfigException.class).hasMessageContaining("HazelcastSessionStoreFactory.configure");
      assertThatThrownBy(() -> get(new HazelcastSessionStoreFactory().create(vertx,
          TestCluster.settings("n1", SessionLimits.defaults()), new JsonObject().put("instance-name", "nobody"))))
          .isInstanceOf(ConfigException.class).hasMessageContaining("nobody");
      assertThat(hz.getLifecycleService().isRunning()).isTrue();
      assertThat(Hazelcast.getHazelcastInstanceByName(hz.getName())).isSameAs(hz);
    } finally {
      get(vertx.close());
      tc.close();
    }
  }
}
