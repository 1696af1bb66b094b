package io.snakepit.tests.chaos;

import io.vertx.core.json.JsonObject;

/**
 * One operation of a history, recorded when it completed: who sent what to
 * which node, when it was invoked and when it completed (both
 * {@link System#nanoTime()}, the machine's monotonic clock, which the Python
 * workers' {@code time.monotonic_ns()} shares), and how it ended.
 *
 * @param client the client (a logical process) that sent it
 * @param fn what it did
 * @param session the session it addressed
 * @param key the variable, counter or stream it addressed, or {@code ""}
 * @param value the value written, or the value read or returned when it completed OK ({@code null}
 *     when there is none)
 * @param node the node it was sent to
 * @param ranOn the node that says it ran it, or {@code null}
 * @param correlationId the request's correlation id
 * @param invoke when it was sent
 * @param complete when its answer came, or when the client gave up waiting
 * @param outcome how it ended
 * @param status the HTTP status, or 0 when none came
 * @param code the typed error's code, or {@code null}
 * @param extra what a function reports beyond its value: a hold's interval in the worker, a
 *     stream's items
 */
public record Op(String client, Fn fn, String session, String key, Object value, String node, String ranOn,
                 String correlationId, long invoke, long complete, Outcome outcome, int status, String code,
                 JsonObject extra) {

  /** What an operation does. */
  public enum Fn {
    /** {@code PUT .../variables/KEY}: a register write. */
    WRITE,
    /** {@code GET .../variables/KEY}: a register read. */
    READ,
    /** The demo's {@code incr} tool: a counter's read-modify-write through Python. */
    INCR,
    /** The demo's {@code tally} tool: a counter variable's increment ({@code ctx.session.incr}, a CRDT). */
    TALLY,
    /** {@code POST /v1/sessions}. */
    CREATE,
    /** {@code DELETE /v1/sessions/ID}. */
    DELETE,
    /** {@code remember}: Python-side state kept by the session's worker. */
    REMEMBER,
    /** {@code recall}: what the session's worker remembers. */
    RECALL,
    /** A streamed call ({@code count}). */
    STREAM,
    /** {@code hold}: a call that reports the interval it ran in its worker, for the single-owner check. */
    HOLD
  }

  /** How an operation ended. */
  public enum Outcome {
    /** Acknowledged: it took effect. */
    OK,
    /** A definite error: it did not take effect (a typed 4xx or a "nothing ran" 503). */
    FAIL,
    /** Not known: a timeout, a lost connection, or an error that says the outcome is unknown. */
    UNKNOWN
  }

  public boolean ok() {
    return outcome == Outcome.OK;
  }

  /** The value as a number, or {@code Long.MIN_VALUE} when it is none. */
  public long number() {
    return value instanceof Number n ? n.longValue() : Long.MIN_VALUE;
  }

  /** A copy with another value (used by the self-test to plant anomalies). */
  public Op withValue(Object v) {
    return new Op(client, fn, session, key, v, node, ranOn, correlationId, invoke, complete, outcome, status, code,
        extra);
  }

  /** This read as having completed and returned {@code v} ({@code null}: nothing there). */
  public Op read(Object v) {
    return new Op(client, fn, session, key, v, node, ranOn, correlationId, invoke, complete, Outcome.OK, status, null,
        extra);
  }

  /** One line of the history file. */
  public JsonObject toJson() {
    return new JsonObject().put("client", client).put("fn", fn.name()).put("session", session).put("key", key)
        .put("value", value).put("node", node).put("ran_on", ranOn).put("correlation_id", correlationId)
        .put("invoke", invoke).put("complete", complete).put("outcome", outcome.name()).put("status", status)
        .put("code", code).put("extra", extra);
  }

  /** Reads a line of the history file. */
  public static Op fromJson(JsonObject j) {
    Object v = j.getValue("value");
    // JSON reads small whole numbers back as Integer; the history records them as Long.
    if (v instanceof Integer i) {
      v = i.longValue();
    }
    return new Op(j.getString("client"), Fn.valueOf(j.getString("fn")), j.getString("session"), j.getString("key"),
        v, j.getString("node"), j.getString("ran_on"), j.getString("correlation_id"),
        j.getLong("invoke"), j.getLong("complete"), Outcome.valueOf(j.getString("outcome")),
        j.getInteger("status", 0), j.getString("code"), j.getJsonObject("extra"));
  }
}
