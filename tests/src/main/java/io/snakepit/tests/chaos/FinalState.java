package io.snakepit.tests.chaos;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What the cluster holds once the faults are healed and every node answers
 * the same: each session's variables (absent for a session no node has),
 * what each session's worker recalls, how long the cluster took to agree, and
 * the processes of the run still alive after its nodes were ended.
 *
 * @param sessions the variables of each session the run used, by session id; {@code null} for a session
 *     that does not exist
 * @param recalled what {@code recall} answered at the end, by session id
 * @param convergedAfterMs how long after the last heal every node answered the same, or -1 if they never did
 *     within the run's deadline
 * @param converged whether every node answered the same in the end
 * @param leftBehind processes the run started (nodes, workers, what tools started) still alive after the
 *     nodes were ended, described for the report
 */
public record FinalState(Map<String, JsonObject> sessions, Map<String, Object> recalled, long convergedAfterMs,
                         boolean converged, List<String> leftBehind) {

  /** A copy with other sessions (used by the self-test). */
  public FinalState withSessions(Map<String, JsonObject> other) {
    return new FinalState(other, recalled, convergedAfterMs, converged, leftBehind);
  }

  public JsonObject toJson() {
    JsonObject s = new JsonObject();
    new TreeMap<>(sessions).forEach(s::put);
    JsonObject r = new JsonObject();
    new TreeMap<>(recalled).forEach(r::put);
    return new JsonObject().put("sessions", s).put("recalled", r).put("converged_after_ms", convergedAfterMs)
        .put("converged", converged).put("left_behind", new JsonArray(leftBehind));
  }

  public static FinalState fromJson(JsonObject j) {
    Map<String, JsonObject> sessions = new TreeMap<>();
    j.getJsonObject("sessions").forEach(e -> sessions.put(e.getKey(), (JsonObject) e.getValue()));
    Map<String, Object> recalled = new TreeMap<>();
    j.getJsonObject("recalled").forEach(e -> recalled.put(e.getKey(), e.getValue() instanceof Integer i
        ? (Object) i.longValue() : e.getValue()));
    List<String> left = new ArrayList<>();
    j.getJsonArray("left_behind").forEach(x -> left.add((String) x));
    return new FinalState(sessions, recalled, j.getLong("converged_after_ms"), j.getBoolean("converged"), left);
  }
}
