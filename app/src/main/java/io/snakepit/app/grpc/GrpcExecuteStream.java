package io.snakepit.app.grpc;

import io.snakepit.app.StreamBridge;
import io.snakepit.contract.SnakepitException;
import io.snakepit.grpc.v1.ExecuteRequest;
import io.snakepit.grpc.v1.StreamEvent;
import io.snakepit.grpc.v1.StreamStart;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.grpc.server.GrpcServerRequest;
import io.vertx.grpc.server.GrpcServerResponse;

/**
 * Bridges one streaming call ({@code ExecuteStream}) to a gRPC response stream,
 * over the event bus's stream protocol ({@link io.snakepit.contract.Addresses#STREAM_OPEN}: a sink
 * address for the events, a control address for credit and cancel). Credit goes
 * back to the worker only while the gRPC stream is writable, so a slow client
 * slows the Python generator; a client that cancels the call, or goes away,
 * cancels it in the worker.
 */
final class GrpcExecuteStream implements StreamBridge.Client {

  private final GrpcServerRequest<ExecuteRequest, StreamEvent> call;
  private final GrpcServerResponse<ExecuteRequest, StreamEvent> response;
  private final DeliveryOptions options;
  private final StreamBridge bridge;
  /** Releases what the call holds (its place among the key's concurrent calls); safe to run more than once. */
  private final Runnable ended;

  GrpcExecuteStream(Vertx vertx, GrpcServerRequest<ExecuteRequest, StreamEvent> call, DeliveryOptions options,
      Runnable ended) {
    this.call = call;
    this.ended = ended;
    this.response = call.response();
    this.options = options;
    this.bridge = new StreamBridge(vertx, this);
  }

  /** Opens the stream with the call's body (as for {@link io.snakepit.contract.Addresses#EXECUTE}). */
  void open(JsonObject body) {
    // A client that cancels resets the HTTP/2 stream; a connection that drops resets every stream on it.
    call.exceptionHandler(t -> {
      ended.run();
      bridge.cancel();
    });
    response.exceptionHandler(t -> {
      ended.run();
      bridge.cancel();
    });
    response.drainHandler(v -> bridge.drained());
    bridge.open(body, options);
  }

  private String cid() {
    return options.getHeaders() == null ? null : options.getHeaders().get(io.snakepit.contract.Headers.CORRELATION_ID);
  }

  @Override
  public void onStart(String worker, String node) {
    response.write(StreamEvent.newBuilder().setStart(StreamStart.newBuilder().setWorker(worker).setNode(node))
        .build());
  }

  @Override
  public void onItem(Object item) {
    response.write(StreamEvent.newBuilder().setItem(JsonValues.toValue(item)).build());
  }

  @Override
  public void onEnd() {
    ended.run();
    response.end();
  }

  @Override
  public void onError(SnakepitException e) {
    ended.run();
    GrpcErrors.fail(response, e.withCorrelationId(cid()));
  }

  @Override
  public boolean writable() {
    return !response.writeQueueFull();
  }
}
