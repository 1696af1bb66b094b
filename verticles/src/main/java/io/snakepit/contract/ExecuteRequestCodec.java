package io.snakepit.contract;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.MessageCodec;
import io.vertx.core.json.JsonObject;

/**
 * Carries an {@link ExecuteRequest} over the event bus. Inside a node the
 * record itself is delivered: it is immutable and its {@code args} are never
 * changed after the front door decoded them, so a call is decoded once and
 * never copied on its way to a worker (the JSON codec copies a
 * {@link JsonObject} at every local hop). Between nodes it travels as the
 * JSON of {@link ExecuteRequest#toJson()}, the documented format, followed by
 * the paths of its bytes ({@link BytePaths#writeJson}), so that a {@code bytes}
 * argument is bytes again on the other side; a decoder of an earlier version
 * reads the JSON alone and sees base64 strings.
 */
public final class ExecuteRequestCodec implements MessageCodec<ExecuteRequest, ExecuteRequest> {

  /** The codec's name on the event bus. */
  public static final String NAME = "snakepit.execute-request";

  static final ExecuteRequestCodec INSTANCE = new ExecuteRequestCodec();

  private ExecuteRequestCodec() {
  }

  /**
   * Makes {@link ExecuteRequest} a body this Vert.x instance's event bus can
   * carry; every verticle that sends or takes one calls it when it starts.
   * Idempotent.
   */
  public static void register(Vertx vertx) {
    try {
      vertx.eventBus().registerDefaultCodec(ExecuteRequest.class, INSTANCE);
    } catch (IllegalStateException alreadyRegistered) {
      // another verticle of this Vert.x instance registered it first
    }
  }

  @Override
  public void encodeToWire(Buffer buffer, ExecuteRequest request) {
    JsonObject json = request.toJson();
    if (request.correlationId() != null) {
      json.put(Headers.CORRELATION_ID, request.correlationId());
    }
    LocalCodecs.writeJson(buffer, json);
  }

  @Override
  public ExecuteRequest decodeFromWire(int pos, Buffer buffer) {
    JsonObject json = LocalCodecs.readJson(pos, buffer);
    String cid = (String) json.remove(Headers.CORRELATION_ID);
    return ExecuteRequest.fromJson(json, cid);
  }

  @Override
  public ExecuteRequest transform(ExecuteRequest request) {
    return request;
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public byte systemCodecID() {
    return -1;
  }
}
