package io.snakepit.app.http;

import io.snakepit.app.StreamBridge;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

/**
 * Bridges one streaming call to an HTTP response in NDJSON: one
 * {@code {"item": ...}} line per item, then {@code {"done": true, ...}} or
 * {@code {"error": {...}}}. A client that sends {@code Accept: text/event-stream}
 * gets the same objects as server-sent events instead, with the event names
 * {@code start}, {@code item}, {@code done} and {@code error}. Credit goes back to the worker only while the
 * response's write queue has room, so a slow HTTP client slows the Python
 * generator instead of filling memory. A client that goes away cancels the call.
 */
final class NdjsonStream implements StreamBridge.Client {

  private final RoutingContext ctx;
  private final JsonObject body;
  private final HttpServerResponse response;
  private final boolean sse;
  private final StreamBridge bridge;
  private boolean started;

  NdjsonStream(Vertx vertx, RoutingContext ctx, JsonObject body) {
    this.ctx = ctx;
    this.body = body;
    this.response = ctx.response();
    String accept = ctx.request().getHeader("Accept");
    this.sse = accept != null && accept.contains("text/event-stream");
    this.bridge = new StreamBridge(vertx, this);
  }

  /** One record, as an NDJSON line or a server-sent event. */
  private String record(String event, JsonObject json) {
    return sse ? "event: " + event + "\ndata: " + json.encode() + "\n\n" : json.encode() + "\n";
  }

  void open() {
    if (body == null) {
      return;
    }
    response.closeHandler(v -> bridge.cancel());
    response.drainHandler(v -> bridge.drained());
    bridge.open(body, HttpApiVerticle.options(ctx));
  }

  @Override
  public void onStart(String worker, String node) {
    started = true;
    response.setChunked(true).putHeader("Content-Type", sse ? "text/event-stream" : "application/x-ndjson");
    if (sse) {
      response.putHeader("Cache-Control", "no-cache");
    }
    response.write(record("start", new JsonObject().put("start", true).put("worker", worker).put("node", node)));
  }

  @Override
  public void onItem(Object item) {
    response.write(record("item", new JsonObject().put("item", item)));
  }

  @Override
  public void onEnd() {
    response.end(record("done", new JsonObject().put("done", true)));
  }

  @Override
  public void onError(SnakepitException e) {
    if (started) {
      response.end(record("error", new JsonObject().put("error",
          e.withCorrelationId(ctx.get(HttpApiVerticle.CID)).toJson())));
    } else {
      HttpApiVerticle.fail(ctx, e);
    }
  }

  @Override
  public boolean writable() {
    return !response.writeQueueFull();
  }
}
