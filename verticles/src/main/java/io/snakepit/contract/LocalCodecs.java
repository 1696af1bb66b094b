package io.snakepit.contract;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.MessageCodec;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import io.vertx.core.json.JsonObject;

/**
 * Event-bus codecs for bodies that stay inside one node, so that a call's
 * reply and its typed error are built once and handed over, not copied or
 * encoded and decoded again at every hop. Vert.x's own JSON codec deep-copies
 * a {@link JsonObject} on every local delivery; a reply on its way from a
 * worker to an HTTP response passes two such hops.
 *
 * <p>Only a sender that no longer touches a body may share it, and only with
 * a consumer in the same node: these codecs are registered by every Snakepit
 * verticle, but an older node or an application member may not know them, so
 * nothing sent with them crosses the wire on purpose. Their wire form is
 * still defined (JSON, with the paths of its bytes after it: {@link BytePaths#writeJson}), as the event
 * bus requires one.
 */
public final class LocalCodecs {

  /** A JSON object delivered by reference inside the node. */
  public static final String SHARED_JSON = "snakepit.json.shared";

  private static final DeliveryOptions SHARED = new DeliveryOptions().setCodecName(SHARED_JSON);

  private LocalCodecs() {
  }

  /** Registers the codecs on this Vert.x instance; every verticle calls it when it starts. Idempotent. */
  public static void register(Vertx vertx) {
    try {
      vertx.eventBus().registerCodec(new SharedJson());
    } catch (IllegalStateException alreadyRegistered) {
      // another verticle of this Vert.x instance registered it first
    }
    try {
      vertx.eventBus().registerDefaultCodec(LocalFailure.class, new LocalFailureCodec());
    } catch (IllegalStateException alreadyRegistered) {
      // as above
    }
  }

  /** The wire form of every codec here: a JSON object as {@link BytePaths#writeJson} writes it. */
  static void writeJson(Buffer buffer, JsonObject json) {
    BytePaths.writeJson(buffer, json);
  }

  /** The inverse of {@link #writeJson}, from {@code pos}. */
  static JsonObject readJson(int pos, Buffer buffer) {
    return BytePaths.readJson(pos, buffer);
  }

  /** Options that deliver a JSON body by reference; the sender must not change it afterwards. */
  public static DeliveryOptions shared() {
    return SHARED;
  }

  /**
   * A typed error on its way back inside the node: a {@link ReplyException},
   * as the event bus requires of a failure, that carries the
   * {@link SnakepitException} itself ({@link SnakepitException#from} unwraps it).
   */
  static final class LocalFailure extends ReplyException {

    private final SnakepitException error;
    private String json;

    LocalFailure(SnakepitException error) {
      super(ReplyFailure.RECIPIENT_FAILURE, error.errorCode().httpStatus(), null);
      this.error = error;
    }

    /** The error's JSON, as on the wire, for code that reads a ReplyException itself; encoded only then. */
    @Override
    public String getMessage() {
      if (json == null) {
        json = error.toJson().encode();
      }
      return json;
    }

    SnakepitException error() {
      return error;
    }
  }

  private static final class SharedJson implements MessageCodec<JsonObject, JsonObject> {

    @Override
    public void encodeToWire(Buffer buffer, JsonObject json) {
      writeJson(buffer, json);
    }

    @Override
    public JsonObject decodeFromWire(int pos, Buffer buffer) {
      return readJson(pos, buffer);
    }

    @Override
    public JsonObject transform(JsonObject json) {
      return json;
    }

    @Override
    public String name() {
      return SHARED_JSON;
    }

    @Override
    public byte systemCodecID() {
      return -1;
    }
  }

  private static final class LocalFailureCodec implements MessageCodec<LocalFailure, LocalFailure> {

    @Override
    public void encodeToWire(Buffer buffer, LocalFailure failure) {
      writeJson(buffer, failure.error().toJson());
    }

    @Override
    public LocalFailure decodeFromWire(int pos, Buffer buffer) {
      return new LocalFailure(SnakepitException.fromJson(readJson(pos, buffer)));
    }

    @Override
    public LocalFailure transform(LocalFailure failure) {
      return failure;
    }

    @Override
    public String name() {
      return "snakepit.local-failure";
    }

    @Override
    public byte systemCodecID() {
      return -1;
    }
  }
}
