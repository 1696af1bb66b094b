package io.snakepit.tests.chaos;

import io.snakepit.tests.harness.Http;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * After the last heal: how long until every node sees every other and
 * answers the same for the run's shared sessions, then what the nodes hold
 * for every session the run touched, and what each session's worker recalls.
 */
final class Convergence {

  private final ChaosCluster cluster;
  private final History history;
  private final Workload clients;

  Convergence(ChaosCluster cluster, History history, Workload clients) {
    this.cluster = cluster;
    this.history = history;
    this.clients = clients;
  }

  /**
   * Measures convergence after the last heal at {@code healedAt}, once the clients stopped writing at
   * {@code quietAt} (nodes cannot be seen to answer the same while writes continue), with the cluster whole
   * again at {@code wholeAt} (the nemesis measured it while the clients ran; 0 when unknown). The figure is the
   * later of the two: how long the cluster took to be whole after the heal, and how long, once both the heal
   * and the writes were over, the nodes took to answer the same; so a run that goes on writing long after its
   * last heal does not count that time as the cluster's.
   */
  FinalState await(long healedAt, long quietAt, long wholeAt, Duration deadline) throws Exception {
    List<String> watched = ChaosRun.watched(history);
    long until = System.nanoTime() + deadline.toNanos();
    long convergedAt = -1;
    while (System.nanoTime() < until) {
      if (clusterWhole() && agree(watched) != null) {
        convergedAt = System.nanoTime();
        break;
      }
      Thread.sleep(100); // polling the nodes, with a deadline
    }
    Map<String, JsonObject> sessions = new TreeMap<>();
    boolean converged = convergedAt > 0;
    if (converged) {
      cluster.awaitFormed();
      for (String s : ChaosRun.sessionsOf(history)) {
        Map<String, JsonObject> one = agree(List.of(s));
        while (one == null && System.nanoTime() < until) {
          Thread.sleep(100); // polling the nodes, with the same deadline
          one = agree(List.of(s));
        }
        if (one == null) {
          converged = false;
          break;
        }
        sessions.put(s, one.get(s));
      }
    }
    Map<String, Object> recalled = new TreeMap<>();
    for (String s : watched) {
      if (Workload.keepsPythonState(s)) {
        Op recall = clients.call("final", Op.Fn.RECALL, s, "", null, 0, Workload.stateful(s, "recall", "{}"),
            HttpCalls::recall);
        history.add(recall);
        recalled.put(s, recall.value());
      }
    }
    long agreedMs = Math.max(0, convergedAt - Math.max(healedAt, quietAt)) / 1_000_000;
    long wholeMs = wholeAt == 0 ? 0 : Math.max(0, wholeAt - healedAt) / 1_000_000;
    long ms = converged ? Math.max(agreedMs, wholeMs) : -1;
    return new FinalState(sessions, recalled, ms, converged, List.of());
  }

  /**
   * The variables every node answers for each session ({@code null} for one that no node has), or
   * {@code null} when two nodes answer differently or one cannot answer.
   */
  private Map<String, JsonObject> agree(List<String> ids) throws Exception {
    Map<String, JsonObject> out = new TreeMap<>();
    for (String s : ids) {
      JsonObject seen = null;
      for (int i = 0; i < cluster.size(); i++) {
        HttpResponse<String> r = Http.get(cluster.url(i) + "/v1/sessions/" + s + "/variables");
        JsonObject vars;
        if (r.statusCode() == 200) {
          vars = new JsonObject(r.body()).getJsonObject("variables");
        } else if (r.statusCode() == 404 && "session_not_found".equals(code(r.body()))) {
          vars = GONE;
        } else {
          return null;
        }
        if (i > 0 && !Objects.equals(seen, vars)) {
          return null;
        }
        seen = vars;
      }
      out.put(s, seen == GONE ? null : seen);
    }
    return out;
  }

  private boolean clusterWhole() throws Exception {
    for (int i = 0; i < cluster.size(); i++) {
      if (!cluster.whole(i)) {
        return false;
      }
    }
    return true;
  }

  private static final JsonObject GONE = new JsonObject().put("__gone", true);

  private static String code(String body) {
    JsonObject e = HttpCalls.errorOf(body);
    return e == null ? null : e.getString("code");
  }
}
