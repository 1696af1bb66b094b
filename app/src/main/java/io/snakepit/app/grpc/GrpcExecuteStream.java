package io.snakepit.app.grpc;

import io.snakepit.contract.Addresses;
import io.snakepit.contract.SnakepitException;
import io.snakepit.grpc.v1.ExecuteRequest;
import io.snakepit.grpc.v1.StreamEvent;
import io.snakepit.grpc.v1.StreamStart;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import io.vertx.grpc.server.GrpcServerRequest;
import io.vertx.grpc.server.GrpcServerResponse;
import java.util.UUID;

/**
 * Bridges one streaming call ({@code ExecuteStream}) to a gRPC response stream,
 * over the event bus's stream protocol ({@link Addresses#STREAM_OPEN}: a sink
 * address for the events, a control address for credit and cancel). Credit goes
 * back to the worker only while the gRPC stream is writable, so a slow client
 * slows the Python generator; a client that cancels the call, or goes away,
 * cancels it in the worker.
 */
final class GrpcExecuteStream {

  /** Items the worker may send ahead of the gRPC client. */
  private static final int WINDOW = 32;

  private final Vertx vertx;
  private final GrpcServerRequest<ExecuteRequest, StreamEvent> call;
  private final GrpcServerResponse<ExecuteRequest, StreamEvent> response;
  private final DeliveryOptions options;
  private MessageConsumer<JsonObject> sink;
  private String control;
  private boolean finished;
  private int owed;

  GrpcExecuteStream(Vertx vertx, GrpcServerRequest<ExecuteRequest, StreamEvent> call, DeliveryOptions options) {
    this.vertx = vertx;
    this.call = call;
    this.response = call.response();
    this.options = options;
  }

  /** Opens the stream with the call's body (as for {@link Addresses#EXECUTE}). */
  void open(JsonObject body) {
    String sinkAddress = "snakepit.grpc.sink." + UUID.randomUUID();
    sink = vertx.eventBus().localConsumer(sinkAddress, m -> onEvent(m.body()));
    // A client that cancels resets the HTTP/2 stream; a connection that drops resets every stream on it.
    call.exceptionHandler(t -> cancelled());
    response.exceptionHandler(t -> cancelled());
    response.drainHandler(v -> grant());
    JsonObject open = body.put("sink", sinkAddress).put("credit", WINDOW);
    vertx.eventBus().<JsonObject>request(Addresses.STREAM_OPEN, open, options).onComplete(ar -> {
      if (ar.failed()) {
        if (!finished) {
          finish();
          GrpcErrors.fail(response, SnakepitException.from(ar.cause()).withCorrelationId(cid()));
        }
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

  private String cid() {
    return options.getHeaders() == null ? null : options.getHeaders().get(io.snakepit.contract.Headers.CORRELATION_ID);
  }

  private void cancelled() {
    if (!finished) {
      finish();
      sendControl(new JsonObject().put("cancel", true));
    }
  }

  private void onEvent(JsonObject ev) {
    if (finished) {
      return;
    }
    try {
      switch (ev.getString("type", "")) {
        case "start" -> response.write(StreamEvent.newBuilder().setStart(StreamStart.newBuilder()
            .setWorker(ev.getString("worker", "")).setNode(ev.getString("node", ""))).build());
        case "item" -> {
          response.write(StreamEvent.newBuilder().setItem(JsonValues.toValue(ev.getValue("item"))).build());
          owed++;
          if (owed >= WINDOW / 4 && !response.writeQueueFull()) {
            grant();
          }
        }
        case "end" -> {
          finish();
          response.end();
        }
        case "error" -> {
          finish();
          GrpcErrors.fail(response, SnakepitException.fromJson(ev.getJsonObject("error", new JsonObject()))
              .withCorrelationId(cid()));
        }
        default -> {
          // unknown event types are ignored, so newer nodes can add some
        }
      }
    } catch (IllegalStateException gone) {
      // the stream was reset under us: the client went away
      cancelled();
    }
  }

  /** Returns the credit of items the gRPC client has taken, in batches to save messages. */
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
