package io.snakepit.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.snakepit.tests.harness.Http;
import io.snakepit.tests.harness.NetworkNamespaces;
import io.snakepit.tests.harness.NodeProcess;
import io.snakepit.tests.harness.Poll;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A real network partition of a three-node cluster: each node is a JVM in its
 * own network namespace, on its own address on a private bridge
 * ({@link NetworkNamespaces}); iptables rules inside the namespaces cut
 * {n1, n2} from {n3} while the test, in the root namespace, still reaches
 * all three. Root only (skipped otherwise); CI runs as root.
 *
 * <p>All nodes share this machine's wall clock, so a write acknowledged
 * before another is sent (and a millisecond earlier) has the smaller hybrid
 * logical clock stamp: the last-writer-wins outcome of every conflict is known.
 */
class PartitionTest {

  static final Duration DEADLINE = Duration.ofSeconds(60);
  static final int SESSIONS = 6;

  @BeforeAll
  static void needsNamespaces() {
    String why = NetworkNamespaces.unavailableReason();
    assumeTrue(why == null, () -> "PartitionTest skipped: " + why);
  }

  /**
   * Creates {@value #SESSIONS} sessions PREFIX-0.. through {@code via}, each with
   * {@code base=before}, and records that state in {@code expected}.
   */
  static List<String> seed(NodeProcess via, String prefix, Map<String, JsonObject> expected) throws Exception {
    List<String> sessions = new ArrayList<>();
    for (int i = 0; i < SESSIONS; i++) {
      String id = prefix + "-" + i;
      create(via, id);
      write(via, id, "base", "before");
      sessions.add(id);
      expected.put(id, new JsonObject().put("base", "before"));
    }
    return sessions;
  }

  static String url(NodeProcess n, String path) {
    return n.baseUrl() + path;
  }

  static void create(NodeProcess via, String id) throws Exception {
    HttpResponse<String> r = Http.post(url(via, "/v1/sessions"), new JsonObject().put("id", id).encode());
    assertThat(r.statusCode()).as("create %s: %s", id, r.body()).isEqualTo(201);
  }

  static HttpResponse<String> put(NodeProcess via, String session, String var, Object value) throws Exception {
    return Http.put(url(via, "/v1/sessions/" + session + "/variables/" + var),
        new JsonObject().put("value", value).encode());
  }

  /**
   * Writes until the write is acknowledged: right after a split, a side may
   * briefly refuse while it promotes its copies of the other side's data.
   * Every try comes before the next write is sent, so the order holds.
   * Returns when the acknowledgement arrived (wall clock).
   */
  static long write(NodeProcess via, String session, String var, Object value) throws Exception {
    AtomicReference<String> last = new AtomicReference<>();
    try {
      Poll.until("write " + session + "." + var + "=" + value + " on " + via.nodeId(), DEADLINE, () -> {
        HttpResponse<String> r = put(via, session, var, value);
        last.set(r.statusCode() + " " + r.body());
        return r.statusCode() == 200;
      });
    } catch (AssertionError e) {
      throw new AssertionError(e.getMessage() + "; last answer: " + last.get(), e);
    }
    return System.currentTimeMillis();
  }

  static long delete(NodeProcess via, String session) throws Exception {
    AtomicReference<String> last = new AtomicReference<>();
    try {
      Poll.until("delete " + session + " on " + via.nodeId(), DEADLINE, () -> {
        HttpResponse<String> r = Http.delete(url(via, "/v1/sessions/" + session));
        last.set(r.statusCode() + " " + r.body());
        return r.statusCode() == 204;
      });
    } catch (AssertionError e) {
      throw new AssertionError(e.getMessage() + "; last answer: " + last.get(), e);
    }
    return System.currentTimeMillis();
  }

  /**
   * Waits for the wall clock to pass {@code since}, so that the next write's
   * hybrid-logical-clock stamp exceeds every stamp given up to then (all nodes
   * share this machine's clock). A poll on the clock, at most a few ms.
   */
  static void afterClockPasses(long since) throws Exception {
    Poll.until("the clock passes " + since, Duration.ofSeconds(5), () -> System.currentTimeMillis() > since);
  }

  /** The session's variables as {@code node} reads them, or null if it has no such session. */
  static JsonObject variables(NodeProcess node, String session) throws Exception {
    HttpResponse<String> r = Http.get(url(node, "/v1/sessions/" + session + "/variables"));
    if (r.statusCode() == 404) {
      return null;
    }
    if (r.statusCode() != 200) {
      throw new IOException(node.nodeId() + " " + session + ": " + r.statusCode() + " " + r.body());
    }
    return new JsonObject(r.body()).getJsonObject("variables");
  }

  /**
   * Waits until every node returns exactly {@code expected} for every session
   * (null: the session does not exist), and returns how long that took from
   * {@code sinceNanos}. On timeout, fails with the last disagreement and the logs.
   */
  static long awaitAgreement(NamespacedCluster c, Map<String, JsonObject> expected, long sinceNanos)
      throws Exception {
    AtomicReference<String> mismatch = new AtomicReference<>();
    try {
      Poll.until("every node agrees on every session", DEADLINE, () -> {
        for (NodeProcess n : c.nodes) {
          for (Map.Entry<String, JsonObject> e : expected.entrySet()) {
            JsonObject actual = variables(n, e.getKey());
            boolean same = e.getValue() == null ? actual == null : e.getValue().equals(actual);
            if (!same) {
              mismatch.set(n.nodeId() + " has " + e.getKey() + " = " + actual + ", expected " + e.getValue());
              return false;
            }
          }
        }
        return true;
      });
    } catch (AssertionError e) {
      throw new AssertionError(e.getMessage() + "; last disagreement: " + mismatch.get() + c.logs(), e);
    }
    return (System.nanoTime() - sinceNanos) / 1_000_000;
  }

  /**
   * partition-mode available (the default): both sides serve and take
   * conflicting writes; after the heal every variable holds its last write,
   * by hybrid logical clock, on every node, and a session deleted on one side
   * stays deleted.
   */
  @Test
  void bothSidesServeDuringAPartitionAndConvergeByLastWriterWinsAfterTheHeal() throws Exception {
    try (NamespacedCluster c = new NamespacedCluster(3)) {
      NodeProcess n1 = c.node(0);
      NodeProcess n2 = c.node(1);
      NodeProcess n3 = c.node(2);
      List<NodeProcess> majority = List.of(n1, n2);
      Map<String, JsonObject> before = new LinkedHashMap<>();
      List<String> sessions = seed(n1, "p", before);
      // Deleted during the partition: on the minority side, on the majority side.
      create(n1, "gone-min");
      create(n1, "gone-maj");
      before.put("gone-min", new JsonObject());
      before.put("gone-maj", new JsonObject());
      awaitAgreement(c, before, System.nanoTime());

      c.net.partition(List.of(0, 1), List.of(2));
      c.awaitRings(List.of(List.of(0, 1), List.of(2)));

      Map<String, JsonObject> expected = new LinkedHashMap<>();
      for (int i = 0; i < sessions.size(); i++) {
        String s = sessions.get(i);
        NodeProcess maj = majority.get(i % 2);
        // x: the minority writes first, the majority later: the majority's value wins.
        long t = write(n3, s, "x", "minority-x");
        afterClockPasses(t);
        t = write(maj, s, "x", "majority-x");
        afterClockPasses(t);
        // y: the majority writes first, the minority later: the minority's value wins.
        t = write(maj, s, "y", "majority-y");
        afterClockPasses(t);
        t = write(n3, s, "y", "minority-y");
        afterClockPasses(t);
        // Different variables on each side: both survive.
        write(maj, s, "only-majority", i);
        write(n3, s, "only-minority", i);
        expected.put(s, new JsonObject().put("base", "before").put("x", "majority-x").put("y", "minority-y")
            .put("only-majority", i).put("only-minority", i));
      }
      // The other side writes to the doomed sessions first; the delete comes later and wins anyway.
      afterClockPasses(write(n1, "gone-min", "w", "majority"));
      afterClockPasses(delete(n3, "gone-min"));
      afterClockPasses(write(n3, "gone-maj", "w", "minority"));
      delete(n2, "gone-maj");
      expected.put("gone-min", null);
      expected.put("gone-maj", null);
      // Each side sees its own writes meanwhile.
      assertThat(variables(n3, sessions.get(0)).getString("x")).isEqualTo("minority-x");
      assertThat(variables(n1, sessions.get(0)).getString("y")).isEqualTo("majority-y");
      assertThat(variables(n3, "gone-min")).isNull();
      assertThat(variables(n2, "gone-maj")).isNull();

      long healed = System.nanoTime();
      c.net.heal();
      long convergenceMs = awaitAgreement(c, expected, healed);
      System.out.println("FIGURE convergence_ms=" + convergenceMs + " sessions=" + expected.size());
      c.awaitRings(List.of(List.of(0, 1, 2)));

      // Per variable, spelled out: the last writer won everywhere, and the deletes held.
      for (NodeProcess n : c.nodes) {
        for (String s : sessions) {
          JsonObject v = variables(n, s);
          assertThat(v.getString("x")).as("%s on %s", s, n.nodeId()).isEqualTo("majority-x");
          assertThat(v.getString("y")).as("%s on %s", s, n.nodeId()).isEqualTo("minority-y");
          assertThat(v.containsKey("only-majority") && v.containsKey("only-minority")).isTrue();
        }
        assertThat(Http.get(url(n, "/v1/sessions/gone-min")).statusCode()).isEqualTo(404);
        assertThat(Http.get(url(n, "/v1/sessions/gone-maj")).statusCode()).isEqualTo(404);
      }
    }
  }

  /**
   * partition-mode majority: the minority side refuses writes, and calls in
   * sessions, with 503 {@code minority_partition}, the majority side takes them; after the heal
   * all nodes hold the majority's writes and none of the refused ones.
   */
  @Test
  void inMajorityModeTheMinorityRefusesWritesAndTheMajorityTakesThem() throws Exception {
    try (NamespacedCluster c = new NamespacedCluster(3, "--set", "partition-mode=majority",
        "--set", "cluster-size=3")) {
      NodeProcess n1 = c.node(0);
      NodeProcess n2 = c.node(1);
      NodeProcess n3 = c.node(2);
      Map<String, JsonObject> before = new LinkedHashMap<>();
      List<String> sessions = seed(n1, "m", before);
      create(n1, "probe");
      create(n1, "kept");
      awaitAgreement(c, before, System.nanoTime());

      c.net.partition(List.of(0, 1), List.of(2));
      c.awaitRings(List.of(List.of(0, 1), List.of(2)));
      // The minority notices it is one; the probe's variable is not checked afterwards.
      Poll.until("n3 refuses writes as the minority", DEADLINE, () -> isMinorityRefusal(put(n3, "probe", "v", 1)));

      Map<String, JsonObject> expected = new LinkedHashMap<>();
      for (int i = 0; i < sessions.size(); i++) {
        String s = sessions.get(i);
        HttpResponse<String> refused = put(n3, s, "x", "minority-x");
        assertThat(isMinorityRefusal(refused)).as("minority write to %s: %s", s, refused.body()).isTrue();
        HttpResponse<String> refusedDelete = Http.delete(url(n3, "/v1/sessions/" + s + "/variables/base"));
        assertThat(isMinorityRefusal(refusedDelete)).as("minority delete in %s: %s", s, refusedDelete.body())
            .isTrue();
        write(i % 2 == 0 ? n1 : n2, s, "y", "majority-y");
        expected.put(s, new JsonObject().put("base", "before").put("y", "majority-y"));
      }
      // A Python tool's ctx.session write meets the same refusal: the caller gets the typed 503, not tool_failed.
      HttpResponse<String> refusedIncr = Http.post(url(n3, "/v1/sessions/" + sessions.get(0) + "/execute"),
          new JsonObject().put("tool", "incr").put("args", new JsonObject().put("name", "count")).encode());
      assertThat(isMinorityRefusal(refusedIncr)).as("incr on the minority: %s", refusedIncr.body()).isTrue();
      // A call that keeps its state only in Python writes nothing to the store, and is refused all the same: the
      // majority may run the session's calls meanwhile, and what the minority's worker remembered would be lost.
      HttpResponse<String> refusedRemember = Http.post(url(n3, "/v1/sessions/" + sessions.get(1) + "/execute"),
          new JsonObject().put("tool", "remember").put("args", new JsonObject().put("value", 1)).encode());
      assertThat(isMinorityRefusal(refusedRemember)).as("remember on the minority: %s", refusedRemember.body())
          .isTrue();
      // Calls outside sessions hold no state and still run there.
      HttpResponse<String> sessionless = Http.post(url(n3, "/v1/execute"),
          new JsonObject().put("tool", "add").put("args", new JsonObject().put("a", 1).put("b", 2)).encode());
      assertThat(sessionless.statusCode()).as("a call outside sessions on the minority: %s", sessionless.body())
          .isEqualTo(200);
      HttpResponse<String> refusedSessionDelete = Http.delete(url(n3, "/v1/sessions/kept"));
      assertThat(isMinorityRefusal(refusedSessionDelete)).as(refusedSessionDelete.body()).isTrue();
      expected.put("kept", new JsonObject());

      long healed = System.nanoTime();
      c.net.heal();
      long convergenceMs = awaitAgreement(c, expected, healed);
      System.out.println("FIGURE convergence_ms_majority_mode=" + convergenceMs + " sessions=" + expected.size());
      c.awaitRings(List.of(List.of(0, 1, 2)));
      // Healed: n3 takes writes again.
      write(n3, sessions.get(0), "after", "heal");
    }
  }

  static boolean isMinorityRefusal(HttpResponse<String> r) {
    if (r.statusCode() != 503) {
      return false;
    }
    JsonObject error = new JsonObject(r.body()).getJsonObject("error");
    return error != null && "minority_partition".equals(error.getString("code"));
  }
}
