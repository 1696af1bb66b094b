package io.snakepit.tests;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.tests.harness.Cluster;
import io.snakepit.tests.harness.Http;
import io.snakepit.tests.harness.NodeProcess;
import io.snakepit.tests.harness.Poll;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Three (and four) node JVMs on loopback forming a real Hazelcast cluster with
 * real Python workers: SIGKILL, SIGTERM with state handoff, a join, and a
 * SIGSTOP past the failure detector. Needs no root.
 */
@org.junit.jupiter.api.extension.ExtendWith(PrintNodeLogsOnFailure.class)
class ClusterFailoverTest {

  static final Duration DEADLINE = Duration.ofSeconds(90);

  /**
   * Load on the cluster from a thread of its own: round after round, one
   * request per session, each through one of the given nodes in turn.
   */
  abstract static class Load implements AutoCloseable {
    final List<String> failureMessages = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final List<String> sessions;
    private final List<NodeProcess> via;
    private Thread thread;

    Load(List<String> sessions, List<NodeProcess> via) {
      this.sessions = sessions;
      this.via = via;
    }

    /** Starts the load, once the subclass is built. */
    final void begin(String name) {
      thread = new Thread(() -> {
        int round = 0;
        while (running.get()) {
          round++;
          for (String s : sessions) {
            if (!running.get()) {
              break;
            }
            NodeProcess n = via.get((round + s.hashCode() & 0x7fffffff) % via.size());
            try {
              HttpResponse<String> r = send(n, s, round);
              if (!record(r, s, round)) {
                failureMessages.add(r.statusCode() + " " + r.body());
              }
            } catch (Exception e) {
              failureMessages.add(e.toString());
            }
          }
        }
      }, name);
      thread.start();
    }

    abstract HttpResponse<String> send(NodeProcess n, String session, int round) throws Exception;

    /** Records a response; false for a failure. */
    abstract boolean record(HttpResponse<String> r, String session, int round);

    @Override
    public void close() throws InterruptedException {
      running.set(false);
      thread.join();
    }
  }

  /** Writes a counter into each session, remembering what was acknowledged and what was attempted. */
  static final class Writer extends Load {
    final Map<String, Integer> acked = new ConcurrentHashMap<>();
    final Map<String, Integer> attempted = new ConcurrentHashMap<>();

    Writer(List<String> sessions, List<NodeProcess> via) {
      super(sessions, via);
      begin("writer");
    }

    @Override
    HttpResponse<String> send(NodeProcess n, String s, int round) throws Exception {
      attempted.put(s, round);
      return Http.put(n.baseUrl() + "/v1/sessions/" + s + "/variables/v", "{\"value\":" + round + "}");
    }

    @Override
    boolean record(HttpResponse<String> r, String s, int round) {
      if (r.statusCode() == 200) {
        acked.put(s, round);
        return true;
      }
      return false;
    }
  }

  /** Runs a tool in each session: calls that go through the routing (writes go straight to the store). */
  static final class Caller extends Load {
    final AtomicInteger calls = new AtomicInteger();

    Caller(List<String> sessions, List<NodeProcess> via) {
      super(sessions, via);
      begin("caller");
    }

    @Override
    HttpResponse<String> send(NodeProcess n, String s, int round) throws Exception {
      return Http.post(n.baseUrl() + "/v1/sessions/" + s + "/execute",
          "{\"tool\":\"echo\",\"args\":{\"round\":" + round + "}}");
    }

    @Override
    boolean record(HttpResponse<String> r, String s, int round) {
      calls.incrementAndGet();
      return r.statusCode() == 200;
    }
  }

  /**
   * GET /v1/cluster lists every node with its addresses and workers, and the
   * sessions it owns: each node counts its own share of the store per owner,
   * and the view sums the counts, so they match the owners the sessions report.
   */
  static void assertClusterViewShows(Cluster c, NodeProcess via, Map<String, Long> perOwner) throws Exception {
    Poll.until("GET /v1/cluster counts the sessions each node owns: " + perOwner, DEADLINE, () -> {
      Map<String, Long> shown = new java.util.TreeMap<>();
      for (Object o : Http.getJson(via.baseUrl() + "/v1/cluster").getJsonArray("nodes")) {
        JsonObject n = (JsonObject) o;
        if (n.getValue("sessions_owned") != null && n.getLong("sessions_owned") > 0) {
          shown.put(n.getString("id"), n.getLong("sessions_owned"));
        }
      }
      return shown.equals(perOwner);
    });
    for (Object o : Http.getJson(via.baseUrl() + "/v1/cluster").getJsonArray("nodes")) {
      JsonObject n = (JsonObject) o;
      NodeProcess p = c.byId(n.getString("id"));
      assertThat(p).as("a node of the cluster: " + n).isNotNull();
      JsonObject addresses = n.getJsonObject("addresses");
      assertThat(p.baseUrl()).endsWith(addresses.getString("http"));
      assertThat(addresses.getString("grpc")).isNotBlank();
      assertThat(addresses.getString("cluster")).isNotBlank();
      assertThat(addresses.getString("bus")).isNotBlank();
      assertThat(n.getJsonObject("workers").getInteger("size")).isPositive();
      assertThat(n.getInteger("capacity")).isPositive();
      assertThat(n.getBoolean("draining")).isFalse();
      assertThat(n.getBoolean("in_ring")).isTrue();
      // Its readiness includes the cluster check: it has joined and is in its own ring.
      JsonObject ready = Http.getJson(p.baseUrl() + "/ready");
      assertThat(ready.getString("status")).as(ready.encode()).isEqualTo("READY");
      assertThat(ready.getJsonObject("checks").getJsonObject("cluster").getBoolean("ok")).isTrue();
    }
  }

  /** Runs the demo's sleep tool in {@code session} through {@code via}, without waiting. */
  static java.util.concurrent.CompletableFuture<HttpResponse<String>> sleepIn(NodeProcess via, String session,
                                                                            int ms) {
    return java.util.concurrent.CompletableFuture.supplyAsync(() -> {
      try {
        return Http.post(via.baseUrl() + "/v1/sessions/" + session + "/execute",
            "{\"tool\":\"sleep\",\"args\":{\"ms\":" + ms + "}}");
      } catch (Exception e) {
        throw new java.util.concurrent.CompletionException(e);
      }
    });
  }

  /** Waits until the load flows and {@code node} runs a call: the moment to make it fail or drain. */
  static void awaitLoadAndACallOn(NodeProcess node, Writer w, Caller calls, int sessions) throws Exception {
    Poll.until("writes and calls flow", DEADLINE, () -> w.acked.size() == sessions && calls.calls.get() > sessions);
    Poll.until("a call runs on " + node.nodeId(), DEADLINE, () -> Http.getJson(node.baseUrl() + "/v1/workers")
        .getJsonArray("workers").stream().anyMatch(o -> ((JsonObject) o).getInteger("inflight", 0) > 0));
  }

  /** The error code of a failed call's body, or null. */
  static String errorCode(String statusAndBody) {
    int brace = statusAndBody.indexOf('{');
    if (brace < 0) {
      return null;
    }
    try {
      JsonObject error = new JsonObject(statusAndBody.substring(brace)).getJsonObject("error");
      return error == null ? null : error.getString("code");
    } catch (RuntimeException e) {
      return null;
    }
  }

  static List<String> createSessions(NodeProcess via, String prefix, int n) throws Exception {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String id = prefix + "-" + i;
      assertThat(Http.post(via.baseUrl() + "/v1/sessions", "{\"id\":\"" + id + "\"}").statusCode()).isEqualTo(201);
      ids.add(id);
    }
    return ids;
  }

  static String owner(NodeProcess via, String session) throws Exception {
    return Http.getJson(via.baseUrl() + "/v1/sessions/" + session).getString("owner");
  }

  static void assertNoAckedWriteLost(Writer w, NodeProcess via) throws Exception {
    for (Map.Entry<String, Integer> e : w.acked.entrySet()) {
      JsonObject v = Http.getJson(via.baseUrl() + "/v1/sessions/" + e.getKey() + "/variables/v");
      int stored = v.getInteger("value");
      // The last write may have been applied without its acknowledgement reaching us.
      assertThat(stored).as(e.getKey()).isBetween(e.getValue(), w.attempted.get(e.getKey()));
    }
  }

  @Test
  void sigkillOfANodeUnderLoadLosesNoAcknowledgedWriteAndItsSessionsFailOver() throws Exception {
    try (Cluster c = new Cluster().start(3)) {
      NodeProcess entry = c.node(0);
      List<String> sessions = createSessions(entry, "k", 60);
      NodeProcess victim = c.node(2);
      List<String> owned = new ArrayList<>();
      Map<String, Long> perOwner = new java.util.TreeMap<>();
      for (String s : sessions) {
        String o = owner(entry, s);
        perOwner.merge(o, 1L, Long::sum);
        if (victim.nodeId().equals(o)) {
          owned.add(s);
        }
      }
      assertThat(owned).as("the victim owns some sessions").isNotEmpty();
      assertClusterViewShows(c, entry, perOwner);
      List<NodeProcess> survivors = List.of(c.node(0), c.node(1));
      // A long call running on the victim when it dies, sent through a survivor.
      java.util.concurrent.CompletableFuture<HttpResponse<String>> inFlight = sleepIn(entry, owned.get(0), 30000);
      try (Writer w = new Writer(sessions, survivors); Caller calls = new Caller(sessions, survivors)) {
        awaitLoadAndACallOn(victim, w, calls, sessions.size());
        c.awaitSafe();
        long t0 = System.nanoTime();
        victim.signal("KILL");
        victim.process().waitFor();
        // Every session the victim owned is served again by a survivor.
        for (String s : owned) {
          Poll.until("session " + s + " is served again", DEADLINE, () -> Http.post(entry.baseUrl()
              + "/v1/sessions/" + s + "/execute", "{\"tool\":\"echo\",\"args\":{\"s\":\"" + s + "\"}}")
              .statusCode() == 200);
        }
        long failoverMs = (System.nanoTime() - t0) / 1_000_000;
        System.out.println("FIGURE failover_ms=" + failoverMs + " sessions_owned_by_victim=" + owned.size());
        // The call in flight on the victim failed with a typed error; it did not hang (nor wait its 30 s out).
        HttpResponse<String> lost = inFlight.get(DEADLINE.toSeconds(), java.util.concurrent.TimeUnit.SECONDS);
        assertThat(lost.statusCode()).as(lost.body()).isEqualTo(502);
        assertThat(errorCode(lost.statusCode() + " " + lost.body())).isEqualTo("node_lost");
        assertThat(new JsonObject(lost.body()).getJsonObject("error").getString("correlation_id")).isNotBlank();
        c.awaitRing(2);
        for (String s : owned) {
          assertThat(owner(entry, s)).isNotEqualTo(victim.nodeId());
        }
        w.close();
        calls.close();
        assertThat(w.failureMessages.size()).as("writes that failed during the failover: %s", w.failureMessages).isZero();
        // Calls arriving at the survivors waited for the ring instead of failing; only a call that was
        // running on the victim when it died may fail, and then as node_lost.
        assertThat(calls.failureMessages).as("calls that failed other than as node_lost")
            .allMatch(f -> "node_lost".equals(errorCode(f)));
        System.out.println("FIGURE failover_calls=" + calls.calls.get() + " node_lost=" + calls.failureMessages.size());
        assertNoAckedWriteLost(w, entry);
        assertNoAckedWriteLost(w, c.node(1));
      }
    }
  }

  @Test
  void sigtermDrainsWithZeroLossAndHandsThePythonStateToTheNewOwners() throws Exception {
    try (Cluster c = new Cluster().start(3)) {
      NodeProcess entry = c.node(0);
      NodeProcess victim = c.node(2);
      List<String> sessions = createSessions(entry, "t", 40);
      List<String> owned = new ArrayList<>();
      for (String s : sessions) {
        if (victim.nodeId().equals(owner(entry, s))) {
          owned.add(s);
          // Python-side state, in the victim's workers only.
          JsonObject r = new JsonObject(Http.post(entry.baseUrl() + "/v1/sessions/" + s + "/execute",
              "{\"tool\":\"remember\",\"args\":{\"value\":\"state-of-" + s + "\"}}").body());
          assertThat(r.getString("node")).isEqualTo(victim.nodeId());
        }
      }
      assertThat(owned).isNotEmpty();
      List<NodeProcess> survivors = List.of(c.node(0), c.node(1));
      // A call running on the victim when the drain starts: the drain lets it finish.
      java.util.concurrent.CompletableFuture<HttpResponse<String>> inFlight = sleepIn(entry, owned.get(0), 2000);
      try (Writer w = new Writer(sessions, survivors); Caller calls = new Caller(sessions, survivors)) {
        awaitLoadAndACallOn(victim, w, calls, sessions.size());
        victim.signal("TERM");
        victim.process().waitFor();
        c.awaitRing(2);
        HttpResponse<String> finished = inFlight.get(DEADLINE.toSeconds(), java.util.concurrent.TimeUnit.SECONDS);
        assertThat(finished.statusCode()).as("the call in flight during the drain: %s", finished.body())
            .isEqualTo(200);
        w.close();
        calls.close();
        assertThat(w.failureMessages.size()).as("failed writes: %s", w.failureMessages).isZero();
        // Calls for the draining node's sessions waited for their handoff instead of failing.
        assertThat(calls.failureMessages).as("calls that failed during the drain").isEmpty();
        assertNoAckedWriteLost(w, entry);
      }
      for (String s : owned) {
        JsonObject r = new JsonObject(Http.post(entry.baseUrl() + "/v1/sessions/" + s + "/execute",
            "{\"tool\":\"recall\"}").body());
        assertThat(r.getString("node")).isNotEqualTo(victim.nodeId());
        assertThat(r.getJsonObject("result").getString("value")).as(s).isEqualTo("state-of-" + s);
      }
    }
  }

  @Test
  void aFourthNodeJoinsUnderLoadAndTakesItsShare() throws Exception {
    try (Cluster c = new Cluster().start(3)) {
      NodeProcess entry = c.node(0);
      List<String> sessions = createSessions(entry, "j", 60);
      Map<String, String> ownerBefore = new java.util.HashMap<>();
      for (String s : sessions) {
        ownerBefore.put(s, owner(entry, s));
      }
      for (String s : sessions) {
        assertThat(Http.post(entry.baseUrl() + "/v1/sessions/" + s + "/execute",
            "{\"tool\":\"remember\",\"args\":{\"value\":\"kept-" + s + "\"}}").statusCode()).isEqualTo(200);
      }
      try (Writer w = new Writer(sessions, List.of(c.node(0), c.node(1), c.node(2)));
           Caller calls = new Caller(sessions, List.of(entry))) {
        Poll.until("calls flow", DEADLINE, () -> calls.calls.get() > sessions.size());
        NodeProcess fourth = c.join();
        c.awaitRing(4);
        long moved = 0;
        for (String s : sessions) {
          String now = owner(entry, s);
          if (fourth.nodeId().equals(now)) {
            moved++;
          } else {
            // Only the sessions that must move do: every other one keeps its owner.
            assertThat(now).as("owner of " + s + ", which did not move to the new node").isEqualTo(ownerBefore.get(s));
          }
        }
        // About a quarter of the sessions move to the new node; none of the calls fail meanwhile.
        assertThat(moved).isBetween(3L, 35L);
        w.close();
        calls.close();
        assertThat(calls.failureMessages).as("calls that failed during the join").isEmpty();
        assertThat(w.failureMessages.size()).as("writes that failed during the join: %s", w.failureMessages).isZero();
        assertNoAckedWriteLost(w, fourth);
        // The sessions that moved took their Python-side state along (pulled by the new owner).
        for (String s : sessions) {
          JsonObject r = new JsonObject(Http.post(entry.baseUrl() + "/v1/sessions/" + s + "/execute",
              "{\"tool\":\"recall\"}").body());
          assertThat(r.getJsonObject("result").getString("value")).as(s + " on " + r.getString("node"))
              .isEqualTo("kept-" + s);
        }
      }
    }
  }

  @Test
  void aCheckpointLetsPythonStateSurviveTheCrashOfItsNodeEvenWhileTheSessionIsInUse() throws Exception {
    try (Cluster c = new Cluster("--set", "checkpoint-interval-s=1").start(3)) {
      NodeProcess entry = c.node(0);
      NodeProcess victim = c.node(2);
      String session = null;
      for (String s : createSessions(entry, "cp", 30)) {
        if (victim.nodeId().equals(owner(entry, s))) {
          session = s;
          break;
        }
      }
      assertThat(session).as("a session the victim owns").isNotNull();
      String url = entry.baseUrl() + "/v1/sessions/" + session;
      JsonObject r = new JsonObject(Http.post(url + "/execute",
          "{\"tool\":\"remember\",\"args\":{\"value\":\"checkpointed\"}}").body());
      assertThat(r.getString("node")).isEqualTo(victim.nodeId());
      Poll.until("a checkpoint of the session is stored", DEADLINE,
          () -> Http.getJson(url).getBoolean("handoff_checkpoint", false));
      // Calls on the node that took the checkpoint leave it in place: it is what survives a crash.
      for (int i = 0; i < 3; i++) {
        assertThat(Http.post(url + "/execute", "{\"tool\":\"recall\"}").statusCode()).isEqualTo(200);
      }
      assertThat(Http.getJson(url).getBoolean("handoff_checkpoint", false)).as("checkpoint after calls").isTrue();

      c.awaitSafe();
      victim.signal("KILL");
      victim.process().waitFor();
      c.awaitRing(2);
      JsonObject recalled = new JsonObject(Http.post(url + "/execute", "{\"tool\":\"recall\"}").body());
      assertThat(recalled.getString("node")).isNotEqualTo(victim.nodeId());
      assertThat(recalled.getJsonObject("result").getString("value")).isEqualTo("checkpointed");
    }
  }

  @Test
  void aNodeStoppedPastTheFailureDetectorLeavesAndComesBack() throws Exception {
    try (Cluster c = new Cluster().start(3)) {
      NodeProcess stopped = c.node(2);
      List<String> sessions = createSessions(c.node(0), "p", 30);
      Writer w = new Writer(sessions, List.of(c.node(0), c.node(1)));
      Poll.until("writes flow", DEADLINE, () -> w.acked.size() == sessions.size());
      c.awaitSafe();
      stopped.signal("STOP");
      try {
        Poll.until("the others drop the stopped node", DEADLINE, () -> Cluster.ring(c.node(0)).size() == 2
            && Cluster.ring(c.node(1)).size() == 2);
        // Its sessions are served by the others meanwhile.
        for (String s : sessions) {
          Poll.until(s + " is served", DEADLINE, () -> Http.post(c.node(0).baseUrl() + "/v1/sessions/" + s
              + "/execute", "{\"tool\":\"echo\"}").statusCode() == 200);
        }
      } finally {
        stopped.signal("CONT");
        w.close();
      }
      c.awaitRing(3);
      assertThat(w.failureMessages.size()).as("writes that failed while a node was frozen: %s", w.failureMessages).isZero();
      // Every acknowledged write is there, read through the node that was frozen, once it has rejoined.
      Poll.until("the returned node serves the sessions' data", DEADLINE, () -> {
        try {
          assertNoAckedWriteLost(w, stopped);
          return true;
        } catch (AssertionError e) {
          return false;
        }
      });
      for (String s : sessions) {
        Poll.until(s + " is served after the return", DEADLINE, () -> Http.post(stopped.baseUrl() + "/v1/sessions/"
            + s + "/execute", "{\"tool\":\"echo\"}").statusCode() == 200);
      }
    }
  }
}
