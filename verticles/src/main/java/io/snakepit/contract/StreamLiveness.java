package io.snakepit.contract;

import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.Message;
import io.vertx.core.json.JsonObject;

/**
 * How the consumer of a stream knows that the node running it is still there.
 *
 * <p>A stream's events are sent to its sink without replies, so a lost
 * {@code end} (the sink's node was cut off or paused past failure detection,
 * and the running node could no longer reach it) would leave the consumer
 * waiting forever. So the node running a stream also sends
 * {@code {"type": "alive"}} to the sink every {@link #INTERVAL_MS}, as a
 * request the sink answers; it cancels the stream when the sink is gone. Its
 * answer to the open says so ({@link #OPEN_FIELD}); the consumer then (or
 * once it has heard one {@code alive}: older nodes send neither) fails the
 * stream with {@code node_lost} and {@code "outcome": "unknown"} if nothing
 * arrives for {@link #SILENCE_MS}. Armed at the open, it also catches a sink
 * that never got an event at all: one registered while its node was split
 * from the cluster, which the merged cluster never learnt of.
 *
 * <p>One watchdog per stream, on the consumer's event loop: its {@link #sink}
 * handler takes the sink's messages, {@link #opened} the open's answer, and
 * {@link #stop()} ends it with the stream.
 */
public final class StreamLiveness {

  /** The {@code type} of a keep-alive event. */
  public static final String ALIVE = "alive";
  /** The field of the answer to a stream's open by which the running node says it sends keep-alives. */
  public static final String OPEN_FIELD = "alive_ms";
  /** How often the node running a stream says it is alive. */
  public static final long INTERVAL_MS = 2_000;
  /** How long a consumer waits without any event before it gives the stream up. */
  public static final long SILENCE_MS = 4 * INTERVAL_MS;

  private final Vertx vertx;
  private final Runnable onSilence;
  private long timer = -1;
  private long lastHeard;
  private long lastCheck;
  private boolean stopped;

  /** A watchdog that calls {@code onSilence} once, when the stream has been silent too long. */
  public StreamLiveness(Vertx vertx, Runnable onSilence) {
    this.vertx = vertx;
    this.onSilence = onSilence;
  }

  /** Whether an event is a keep-alive (which the consumer answers and otherwise ignores). */
  private static boolean isAlive(JsonObject event) {
    return ALIVE.equals(event.getString("type"));
  }

  /**
   * The handler of a stream's sink: answers a keep-alive, notes every event, then hands it to {@code events}
   * (keep-alives too, which a consumer ignores as an unknown type).
   */
  public Handler<Message<JsonObject>> sink(Handler<JsonObject> events) {
    return m -> {
      // An item from another node has its bytes as base64: bytes again, as the tool yielded them.
      JsonObject event = BytePaths.restore(m);
      if (event != null) {
        if (isAlive(event)) {
          m.reply(null);
        }
        heard(event);
      }
      events.handle(event);
    };
  }

  /** An event arrived; a keep-alive arms the watchdog. */
  private void heard(JsonObject event) {
    lastHeard = System.nanoTime();
    if (isAlive(event)) {
      arm();
    }
  }

  /** The stream opened; the watchdog is armed if the running node said it sends keep-alives. */
  public void opened(JsonObject answer) {
    if (answer != null && answer.containsKey(OPEN_FIELD)) {
      lastHeard = System.nanoTime();
      arm();
    }
  }

  private void arm() {
    if (timer < 0 && !stopped) {
      lastCheck = System.nanoTime();
      timer = vertx.setPeriodic(INTERVAL_MS, t -> check());
    }
  }

  private void check() {
    long now = System.nanoTime();
    if (now - lastCheck > 2 * INTERVAL_MS * 1_000_000L) {
      // This process was paused (or starved): the keep-alives sent meanwhile are still queued; count afresh.
      lastHeard = now;
    }
    lastCheck = now;
    if (now - lastHeard > SILENCE_MS * 1_000_000L) {
      stop();
      onSilence.run();
    }
  }

  /** The stream ended: no more checks. */
  public void stop() {
    stopped = true;
    if (timer >= 0) {
      vertx.cancelTimer(timer);
      timer = -1;
    }
  }

  /** The error a consumer fails a silent stream with. */
  public static SnakepitException silence(String node, String correlationId) {
    String who = node == null || node.isEmpty() ? "the node running it" : "node " + node + ", which runs it,";
    return new SnakepitException(ErrorCode.NODE_LOST, "Nothing came from " + who + " for " + SILENCE_MS
        + " ms: it left the cluster or can no longer reach this node. The stream was cancelled; whether the tool "
        + "finished is unknown.", correlationId,
        new JsonObject().put("outcome", "unknown").put("node", node == null ? "" : node));
  }
}
