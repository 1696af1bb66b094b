package io.snakepit.app;

import io.snakepit.contract.Addresses;
import io.snakepit.contract.Headers;
import io.snakepit.contract.SnakepitException;
import io.snakepit.contract.StreamLiveness;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import java.util.UUID;

/**
 * The event-bus side of one streaming call served to an API client (HTTP or
 * gRPC): opens the stream with a sink address for its events, hands them to
 * the client, and gives credit back to the worker only for items the client
 * took while its write queue had room, so a slow client slows the Python
 * generator. A client that goes away cancels the call in the worker.
 *
 * <p>Lives on the API verticle's event loop.
 */
public final class StreamBridge {

  /** Items the worker may send ahead of the client. */
  public static final int WINDOW = 32;

  /** What the API does with the stream's events. */
  public interface Client {
    void onStart(String worker, String node);

    void onItem(Object item);

    void onEnd();

    /** The call failed, before or after it started. */
    void onError(SnakepitException error);

    /** Whether the client can take more now; credit waits while it cannot. */
    boolean writable();
  }

  private final Vertx vertx;
  private final Client client;
  private MessageConsumer<JsonObject> sink;
  private String control;
  private final StreamLiveness liveness;
  private boolean finished;
  private int owed;
  private String node;
  private String correlationId;

  public StreamBridge(Vertx vertx, Client client) {
    this.vertx = vertx;
    this.client = client;
    this.liveness = new StreamLiveness(vertx, this::onSilence);
  }

  /** Opens the stream for a call body (as for {@link Addresses#EXECUTE}). */
  public void open(JsonObject body, DeliveryOptions options) {
    String sinkAddress = "snakepit.api.sink." + UUID.randomUUID();
    // Cluster-wide: the call may run on another node, which sends its events here.
    correlationId = options.getHeaders() == null ? null : options.getHeaders().get(Headers.CORRELATION_ID);
    sink = vertx.eventBus().consumer(sinkAddress, liveness.sink(this::onEvent));
    JsonObject open = body.copy().put("sink", sinkAddress).put("credit", WINDOW);
    sink.completion().compose(v -> vertx.eventBus().<JsonObject>request(Addresses.STREAM_OPEN, open, options))
        .onComplete(ar -> {
          if (ar.failed()) {
            if (!finished) {
              finish();
              client.onError(SnakepitException.from(ar.cause()));
            }
          } else {
            control = ar.result().body().getString("control");
            liveness.opened(ar.result().body()); // a no-op once the stream has finished
            if (finished) {
              sendControl(new JsonObject().put("cancel", true));
            } else {
              drained();
            }
          }
        });
  }

  /** The client went away: the call is cancelled in the worker. */
  public void cancel() {
    if (!finished) {
      finish();
      sendControl(new JsonObject().put("cancel", true));
    }
  }

  /** The client's write queue has room again: give back the credit it owes. */
  public void drained() {
    if (control == null || owed == 0 || finished) {
      return;
    }
    sendControl(new JsonObject().put("credit", owed));
    owed = 0;
  }

  private void onEvent(JsonObject ev) {
    if (finished || ev == null) {
      return;
    }
    try {
      switch (ev.getString("type", "")) {
        case "start" -> {
          node = ev.getString("node", "");
          client.onStart(ev.getString("worker", ""), node);
        }
        case "item" -> {
          client.onItem(ev.getValue("item"));
          owed++;
          // In batches, to save messages, and only while the client keeps up.
          if (owed >= WINDOW / 4 && client.writable()) {
            drained();
          }
        }
        case "end" -> {
          finish();
          client.onEnd();
        }
        case "error" -> {
          finish();
          client.onError(SnakepitException.fromJson(ev.getJsonObject("error", new JsonObject())));
        }
        default -> {
          // unknown event types are ignored, so newer nodes can add some
        }
      }
    } catch (IllegalStateException gone) {
      // the client's stream was reset under us: it went away
      cancel();
    }
  }

  /** Nothing came from the node running the stream for too long: it is gone, or cannot reach this node. */
  private void onSilence() {
    if (!finished) {
      finish();
      sendControl(new JsonObject().put("cancel", true));
      client.onError(StreamLiveness.silence(node, correlationId));
    }
  }

  private void sendControl(JsonObject msg) {
    if (control != null) {
      vertx.eventBus().send(control, msg);
    }
  }

  private void finish() {
    finished = true;
    liveness.stop();
    sink.unregister();
  }
}
