package io.snakepit.session.hazelcast;

import static io.snakepit.session.hazelcast.TestCluster.get;
import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.config.Config;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastJsonValue;
import com.hazelcast.map.IMap;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.snakepit.session.SessionLimits;
import io.snakepit.session.SessionStore;
import io.snakepit.session.sealing.DataKeyRing;
import io.snakepit.session.sealing.DataKeyRotation;
import io.snakepit.session.sealing.SealedSessionStore;
import io.snakepit.session.sealing.ValueSealer;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Session data encryption on real embedded Hazelcast members: two node members whose stores seal with one key
 * file, and a plain lite member that joins with the right cluster name and no key, as any process reaching
 * port 5701 could. It reads only ciphertext, and what it writes into the map is refused by the nodes.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SealedHazelcastStoreTest {

  private static final String SECRET = "the-launch-code-is-0000";

  private Vertx vertx;
  private TestCluster cluster;
  private final String firstKeyLine = DataKeyRing.newKeyLine(1);
  private final AtomicReference<DataKeyRing> ring = new AtomicReference<>(DataKeyRing.parse(firstKeyLine, "test"));
  private SealedSessionStore a;
  private SealedSessionStore b;
  private HazelcastInstance rogue;
  private IMap<String, HazelcastJsonValue> rogueMap;

  @BeforeAll
  void setUp() {
    vertx = Vertx.vertx();
    cluster = new TestCluster();
    cluster.start(2, 1);
    SessionLimits limits = SessionLimits.fromJson(new JsonObject(), "sessions.limits");
    a = new SealedSessionStore(cluster.store(vertx, cluster.members.get(0), limits), ring::get, false);
    b = new SealedSessionStore(cluster.store(vertx, cluster.members.get(1), limits), ring::get, false);
    // A plain member: the cluster name and the network, none of the node's classes, config or keys.
    Config plain = new Config();
    Config node = cluster.members.get(0).getConfig();
    plain.setClusterName(node.getClusterName());
    plain.setInstanceName(cluster.clusterName + "-rogue");
    plain.setLiteMember(true);
    plain.setProperty("hazelcast.phone.home.enabled", "false");
    plain.setProperty("hazelcast.logging.type", "slf4j");
    // The test cluster's partition count (a production cluster runs Hazelcast's default, which a plain member has).
    plain.setProperty("hazelcast.partition.count", node.getProperty("hazelcast.partition.count"));
    plain.setNetworkConfig(node.getNetworkConfig());
    rogue = Hazelcast.newHazelcastInstance(plain);
    cluster.members.add(rogue);
    cluster.awaitSize(3);
    rogueMap = rogue.getMap(TestCluster.MAP);
  }

  @AfterAll
  void tearDown() {
    cluster.close();
    get(vertx.close());
  }

  private static ErrorCode failure(Future<?> f) {
    try {
      get(f);
    } catch (SnakepitException e) {
      return e.errorCode();
    }
    throw new AssertionError("expected a failure");
  }

  @Test
  void aMemberWithoutTheKeyReadsOnlyCiphertext() {
    get(a.create("plain-1", 600_000, new JsonObject().put("owner", SECRET + "-meta")));
    get(a.putVariable("plain-1", "v", SECRET + "-var"));
    get(a.putProgram("plain-1", "p", new JsonObject().put("code", SECRET + "-program")));
    get(a.update("plain-1", s -> s.withMetadata(io.snakepit.session.Session.HANDOFF_KEY,
        io.snakepit.session.Stamped.of(new JsonObject().put("data", SECRET + "-state"), 1, "n"))));
    assertThat(get(b.getVariable("plain-1", "v"))).isEqualTo(SECRET + "-var");

    Map<String, HazelcastJsonValue> raw = new java.util.HashMap<>(rogueMap);
    assertThat(raw).containsKey("plain-1");
    String entry = raw.get("plain-1").toString();
    assertThat(entry).doesNotContain(SECRET).contains(ValueSealer.PREFIX + ring.get().activeId());
    assertThat(raw.values()).noneMatch(v -> v.toString().contains(SECRET));
  }

  @Test
  void whatAMemberWithoutTheKeyWritesIsRefusedNotServed() {
    get(a.create("victim", 600_000, null));
    get(a.putVariable("victim", "v", "real"));
    get(a.create("other", 600_000, null));
    get(a.putVariable("other", "v", "from-other"));
    JsonObject victim = new JsonObject(rogueMap.get("victim").toString());
    JsonObject other = new JsonObject(rogueMap.get("other").toString());

    // 1. a value in clear
    JsonObject forged = victim.copy();
    forged.getJsonObject("variables").getJsonObject("v").put("v", "forged-in-clear");
    rogueMap.put("victim", new HazelcastJsonValue(forged.encode()));
    assertThat(failure(b.get("victim"))).isEqualTo(ErrorCode.INTEGRITY_FAILED);
    assertThat(failure(b.getVariable("victim", "v"))).isEqualTo(ErrorCode.INTEGRITY_FAILED);

    // 2. a ciphertext moved from another session
    forged = victim.copy();
    forged.getJsonObject("variables").put("v", other.getJsonObject("variables").getJsonObject("v"));
    rogueMap.put("victim", new HazelcastJsonValue(forged.encode()));
    assertThat(failure(a.getVariable("victim", "v"))).isEqualTo(ErrorCode.INTEGRITY_FAILED);

    // 3. a ciphertext made with a key of its own under the node's key id
    DataKeyRing own = DataKeyRing.parse(ring.get().activeId() + "="
        + java.util.Base64.getEncoder().encodeToString(new byte[32]), "rogue");
    forged = victim.copy();
    forged.getJsonObject("variables").getJsonObject("v")
        .put("v", ValueSealer.seal(own, "victim", ValueSealer.Kind.VARIABLE, "v", "forged"));
    rogueMap.put("victim", new HazelcastJsonValue(forged.encode()));
    assertThat(failure(a.get("victim"))).isEqualTo(ErrorCode.INTEGRITY_FAILED);

    // The node keeps serving other sessions; the original entry, put back, reads again.
    assertThat(get(b.getVariable("other", "v"))).isEqualTo("from-other");
    rogueMap.put("victim", new HazelcastJsonValue(victim.encode()));
    assertThat(get(b.getVariable("victim", "v"))).isEqualTo("real");
  }

  @Test
  void rotationUnderWriteLoadLosesNoAcknowledgedWrite() throws Exception {
    int sessions = 8;
    for (int i = 0; i < sessions; i++) {
      get(a.create("load-" + i, 600_000, null));
      get(a.putVariable("load-" + i, "seed", "seed-" + i));
    }
    String oldKey = ring.get().activeId();
    Map<String, String> acknowledged = new ConcurrentHashMap<>();
    AtomicBoolean stop = new AtomicBoolean();
    CountDownLatch writing = new CountDownLatch(2);
    ExecutorService pool = Executors.newFixedThreadPool(2);
    List<java.util.concurrent.Future<?>> writers = new ArrayList<>();
    try {
      for (int w = 0; w < 2; w++) {
        SessionStore via = w == 0 ? a : b;
        int writer = w;
        writers.add(pool.submit(() -> {
          int n = 0;
          while (!stop.get()) {
            String id = "load-" + (n % sessions);
            String name = "w" + writer + "-" + n;
            String value = "value-" + writer + "-" + n;
            get(n % 3 == 0 ? via.update(id, s -> s.withVariable(name,
                io.snakepit.session.Stamped.of(value, via.settings().clock().now(), via.settings().nodeId())))
                : via.putVariable(id, name, value));
            acknowledged.put(id + "/" + name, value);
            if (++n == 20) {
              writing.countDown();
            }
          }
          return null;
        }));
      }
      assertThat(writing.await(60, TimeUnit.SECONDS)).isTrue();
      // A new key is appended to the file: the nodes pick it up, then the rotation re-seals everything.
      ring.set(DataKeyRing.parse(firstKeyLine + "\n" + DataKeyRing.newKeyLine(2), "test"));
      String newKey = ring.get().activeId();
      DataKeyRotation rotation = new DataKeyRotation(a, () -> Future.succeededFuture(ring.get()));
      get(rotation.start());
      TestCluster.await(() -> !"running".equals(rotation.status().getString("state")), "rotation to end");
      JsonObject status = rotation.status();
      assertThat(status.getString("state")).isEqualTo("done");
      assertThat(status.getLong("failed")).isZero();
      assertThat(status.getLong("refused")).isZero();
      assertThat(status.getLong("scanned")).isGreaterThanOrEqualTo(sessions);
      stop.set(true);
      for (var f : writers) {
        f.get(60, TimeUnit.SECONDS);
      }

      // Every acknowledged write is there, read through either node.
      assertThat(acknowledged).hasSizeGreaterThan(40);
      for (int i = 0; i < sessions; i++) {
        JsonObject vars = get(b.get("load-" + i)).variablesJson();
        assertThat(vars.getString("seed")).isEqualTo("seed-" + i);
        String prefix = "load-" + i + "/";
        acknowledged.forEach((k, v) -> {
          if (k.startsWith(prefix)) {
            assertThat(vars.getString(k.substring(prefix.length()))).as(k).isEqualTo(v);
          }
        });
      }
      // ... and no value is left under the old key: the old key could now leave the file.
      for (int i = 0; i < sessions; i++) {
        JsonObject stored = new JsonObject(rogueMap.get("load-" + i).toString()).getJsonObject("variables");
        for (String name : stored.fieldNames()) {
          assertThat(ValueSealer.keyIdOf(stored.getJsonObject(name).getValue("v"))).as(name).isEqualTo(newKey);
        }
      }
    } finally {
      stop.set(true);
      pool.shutdownNow();
      assertThat(pool.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
    }
  }
}
