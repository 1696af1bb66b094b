package io.snakepit.app.http;

import io.snakepit.contract.Addresses;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.util.UUID;

/**
 * Bridges one streaming call to an HTTP response in NDJSON: one
 * {@code {"item": ...}} line per item, then {@code {"done": true, ...}} or
 * {@code {"error": {...}}}. A client that sends {@code Accept: text/event-stream}
 * gets the same objects as server-sent events instead, with the event names
 * {@code start}, {@code item}, {@code done} and {@code error}. Credit goes back to the worker only while the
 * response's write queue has room, so a slow HTTP client slows the Python
 * generator instead of filling memory. A client that goes away cancels the call.
 */
final class NdjsonStream {

  /** Items the worker may send ahead of the HTTP client. */
  private static final int WINDOW = 32;

  private final Vertx vertx;
  private final RoutingContext ctx;
  private final JsonObject body;
  private final HttpServerResponse response;
  private final boolean sse;
  private MessageConsumer<JsonObject> sink;
  private String control;
  private boolean started;
  private boolean finished;
  private int owed;

  NdjsonStream(Vertx vertx, RoutingContext ctx, JsonObject body) {
    this.vertx = vertx;
    this.ctx = ctx;
    this.body = body;
    this.response = ctx.response();
    String accept = ctx.request().getHeader("Accept");
    this.sse = accept != null && accept.contains("text/event-stream");
  }

  /** One record, as an NDJSON line or a server-sent event. */
  private String record(String event, JsonObject json) {
    return sse ? "event: " + event + "\ndata: " + json.encode() + "\n\n" : json.encode() + "\n";
  }

  void open() {
    if (body == null) {
      return;
    }
    String sinkAddress = "snakepit.http.sink." + UUID.randomUUID();
    // Cluster-wide: the call may run on another node, which sends its items here.
    sink = vertx.eventBus().consumer(sinkAddress, m -> onEvent(m.body()));
    response.closeHandler(v -> {
      if (!finished) {
        finished = true;
        sendControl(new JsonObject().put("cancel", true));
        sink.unregister();
      }
    });
    response.drainHandler(v -> grant());
    JsonObject open = body.copy().put("sink", sinkAddress).put("credit", WINDOW);
    sink.completion().compose(v -> vertx.eventBus().<JsonObject>request(Addresses.STREAM_OPEN, open,
        HttpApiVerticle.options(ctx))).onComplete(ar -> {
      if (ar.failed()) {
        finish();
        HttpApiVerticle.fail(ctx, SnakepitException.from(ar.cause()));
      } else {
        control = ar.result().body().getString("control");
        if (finished) {
          sendControl(new JsonObject().put("cancel", true));
        } else if (owed > 0) {
          grant();
        }
      }
    });
  }

  private void onEvent(JsonObject ev) {
    if (finished) {
      return;
    }
    switch (ev.getString("type", "")) {
      case "start" -> {
        started = true;
        response.setChunked(true).putHeader("Content-Type", sse ? "text/event-stream" : "application/x-ndjson");
        if (sse) {
          response.putHeader("Cache-Control", "no-cache");
        }
        response.write(record("start", new JsonObject().put("start", true).put("worker", ev.getString("worker"))
            .put("node", ev.getString("node"))));
      }
      case "item" -> {
        response.write(record("item", new JsonObject().put("item", ev.getValue("item"))));
        owed++;
        if (owed >= WINDOW / 4 && !response.writeQueueFull()) {
          grant();
        }
      }
      case "end" -> {
        finish();
        response.end(record("done", new JsonObject().put("done", true)));
      }
      case "error" -> {
        finish();
        SnakepitException e = SnakepitException.fromJson(ev.getJsonObject("error", new JsonObject()));
        if (started) {
          response.end(record("error", new JsonObject().put("error",
              e.withCorrelationId(ctx.get(HttpApiVerticle.CID)).toJson())));
        } else {
          HttpApiVerticle.fail(ctx, e);
        }
      }
      default -> {
        // unknown event types are ignored, so newer nodes can add some
      }
    }
  }

  /** Returns the credit of items the HTTP client has taken, in batches to save messages. */
  private void grant() {
    if (control == null || owed == 0 || finished) {
      return;
    }
    sendControl(new JsonObject().put("credit", owed));
    owed = 0;
  }

  private void sendControl(JsonObject msg) {
    if (control != null) {
      vertx.eventBus().send(control, msg);
    }
  }

  private void finish() {
    finished = true;
    sink.unregister();
  }
}
