package io.snakepit.routing;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Membership from heartbeats: the ring, expiry, draining, and the view GET /v1/cluster shows. */
class NodeDirectoryTest {

  static final long MS = 1_000_000;

  static JsonObject hb(String id, int capacity, boolean draining, JsonObject owned) {
    return new JsonObject().put("node", id).put("http", "h-" + id).put("grpc", "g-" + id).put("cluster", "c-" + id)
        .put("bus", "b-" + id).put("capacity", capacity).put("free", capacity).put("queued", 0)
        .put("draining", draining).put("workers", new JsonObject().put("ready", capacity).put("size", capacity))
        .put("owned", owned);
  }

  @Test
  void silentNodesExpireUnlessTheSilenceWasThisNodesOwn() {
    NodeDirectory d = new NodeDirectory(5_000);
    assertThat(d.heard(hb("a", 2, false, null), 0)).isTrue();
    assertThat(d.heard(hb("b", 2, false, null), 0)).isTrue();
    assertThat(d.expire(4_000 * MS)).isEmpty();
    // This node was paused for 10 s: it counts everyone as just heard, and nobody expires yet.
    d.heardAllAt(10_000 * MS);
    assertThat(d.expire(10_001 * MS)).isEmpty();
    assertThat(d.ring().nodes()).containsExactlyInAnyOrder("a", "b");
    d.heard(hb("a", 2, false, null), 12_000 * MS);
    assertThat(d.expire(15_500 * MS)).containsExactly("b");
    assertThat(d.ring().nodes()).containsExactly("a");
  }

  @Test
  void drainingNodesStayKnownButLeaveTheRing() {
    NodeDirectory d = new NodeDirectory(5_000);
    d.heard(hb("a", 2, false, null), 0);
    d.heard(hb("b", 4, true, null), 0);
    assertThat(d.ring().nodes()).containsExactly("a");
    assertThat(d.ringMembers()).isEqualTo(Map.of("a", 2));
    assertThat(d.toJson(0).getJsonObject(1).getBoolean("in_ring")).isFalse();
  }

  @Test
  void theViewSumsEveryNodesCountsPerOwnerAndShowsAddresses() {
    NodeDirectory d = new NodeDirectory(5_000);
    d.heard(hb("a", 2, false, new JsonObject().put("a", 3).put("b", 1)), 0);
    d.heard(hb("b", 2, false, new JsonObject().put("a", 2).put("b", 4)), 0);
    var view = d.toJson(250 * MS);
    JsonObject a = view.getJsonObject(0);
    assertThat(a.getString("id")).isEqualTo("a");
    assertThat(a.getLong("sessions_owned")).isEqualTo(5L);
    assertThat(view.getJsonObject(1).getLong("sessions_owned")).isEqualTo(5L);
    assertThat(a.getJsonObject("addresses")).isEqualTo(new JsonObject().put("http", "h-a").put("grpc", "g-a")
        .put("cluster", "c-a").put("bus", "b-a"));
    assertThat(a.getJsonObject("workers").getInteger("size")).isEqualTo(2);
    assertThat(a.getLong("last_heard_ms")).isEqualTo(250L);
    // Before any node has counted, the figure is unknown rather than zero.
    NodeDirectory fresh = new NodeDirectory(5_000);
    fresh.heard(hb("a", 2, false, null), 0);
    assertThat(fresh.toJson(0).getJsonObject(0).getValue("sessions_owned")).isNull();
  }
}
