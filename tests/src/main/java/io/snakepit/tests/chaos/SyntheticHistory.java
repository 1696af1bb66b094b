package io.snakepit.tests.chaos;

import io.snakepit.tests.chaos.Op.Fn;
import io.snakepit.tests.chaos.Op.Outcome;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A small history, written by hand, that keeps every promise: what the
 * self-test plants anomalies into when no recorded run is given, and what
 * the checkers' own tests start from.
 */
public final class SyntheticHistory {

  private SyntheticHistory() {
  }

  /** Milliseconds since the history's origin, as {@link System#nanoTime()} would give them. */
  static long ms(long ms) {
    return ms * 1_000_000L;
  }

  static Op op(String client, Fn fn, String session, String key, Object value, String node, String ranOn,
               long invokeMs, long completeMs, Outcome outcome, JsonObject extra) {
    return new Op(client, fn, session, key, value, node, ranOn, client + "-" + invokeMs, ms(invokeMs),
        ms(completeMs), outcome, outcome == Outcome.OK ? 200 : 503, outcome == Outcome.OK ? null : "not_owner",
        extra);
  }

  static JsonObject interval(long fromMs, long toMs) {
    return new JsonObject().put("start_ns", ms(fromMs)).put("end_ns", ms(toMs));
  }

  /** The clean history and the state it ends in. */
  public static SelfTest.Case clean() {
    History h = new History();
    h.origin(0);
    Outcome ok = Outcome.OK;
    List.of(
        op("setup", Fn.CREATE, "chaos-0", "", null, "n1", null, 0, 5, ok, null),
        op("setup", Fn.CREATE, "py-0", "", null, "n2", null, 0, 5, ok, null),
        op("c0", Fn.WRITE, "chaos-0", "r0", 1L, "n1", null, 10, 20, ok, null),
        op("c1", Fn.WRITE, "chaos-0", "r0", 2L, "n2", null, 30, 40, ok, null),
        op("c1", Fn.WRITE, "chaos-0", "r0", 3L, "n3", null, 45, 48, Outcome.FAIL, null),
        op("c0", Fn.READ, "chaos-0", "r0", 2L, "n3", null, 50, 55, ok, null),
        op("c0", Fn.INCR, "chaos-0", "k0-0", 1L, "n1", "node-a", 10, 20, ok, null),
        op("c0", Fn.INCR, "chaos-0", "k0-0", 2L, "n2", "node-a", 30, 40, ok, null),
        op("c0", Fn.INCR, "chaos-0", "k0-0", 3L, "n3", "node-a", 50, 60, ok, null),
        op("c1", Fn.CREATE, "t1-1", "", null, "n1", null, 10, 20, ok, null),
        op("c1", Fn.DELETE, "t1-1", "", null, "n2", null, 30, 40, ok, null),
        op("c1", Fn.CREATE, "t1-2", "", null, "n3", null, 50, 60, ok, null),
        op("c0", Fn.REMEMBER, "py-0", "", 5L, "n1", "node-b", 10, 20, ok, null),
        op("c0", Fn.RECALL, "py-0", "", 5L, "n2", "node-b", 30, 40, ok, null),
        op("c1", Fn.HOLD, "chaos-0", "", null, "n1", "node-a", 10, 35, ok, interval(12, 32)),
        op("c0", Fn.HOLD, "chaos-0", "", null, "n2", "node-a", 40, 65, ok, interval(42, 62)))
        .forEach(h::add);
    Map<String, JsonObject> sessions = new TreeMap<>();
    sessions.put("chaos-0", new JsonObject().put("r0", 2L).put("k0-0", 3L));
    sessions.put("py-0", new JsonObject());
    sessions.put("t1-1", null);
    sessions.put("t1-2", new JsonObject());
    Map<String, Object> recalled = new TreeMap<>(Map.of("py-0", 5L));
    return new SelfTest.Case(h, new FinalState(sessions, recalled, 100, true, List.of()));
  }
}
