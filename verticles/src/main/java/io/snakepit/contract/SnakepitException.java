package io.snakepit.contract;

import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;

/**
 * A typed failure: an {@link ErrorCode}, a message that says what happened and
 * what to do, the correlation id of the request, and optional details (such as
 * a Python traceback or the list of tools).
 *
 * <p>On the event bus it travels as a {@link ReplyException} whose message is
 * the JSON of {@link #toJson()}; {@link #from(Throwable)} turns it back.
 */
public final class SnakepitException extends RuntimeException {

  /**
   * Detail set (true) on a refusal that a tool met part-way, such as a {@code not_owner} of one of its
   * {@code ctx.session} writes: the tool ran up to it, so the call must not be routed again by itself.
   */
  public static final String DETAIL_TOOL_RAN = "tool_ran";

  private final ErrorCode errorCode;
  private final String correlationId;
  private final JsonObject details;

  public SnakepitException(ErrorCode errorCode, String message, String correlationId, JsonObject details) {
    super(message, null, false, false);
    this.errorCode = errorCode;
    this.correlationId = correlationId;
    this.details = details == null ? new JsonObject() : details;
  }

  public SnakepitException(ErrorCode errorCode, String message) {
    this(errorCode, message, null, null);
  }

  public ErrorCode errorCode() {
    return errorCode;
  }

  public String correlationId() {
    return correlationId;
  }

  /** Extra fields, such as {@code type}, {@code traceback}, {@code tools}, {@code stderr}. */
  public JsonObject details() {
    return details;
  }

  /** The same failure, stamped with a correlation id if it has none yet. */
  public SnakepitException withCorrelationId(String id) {
    if (correlationId != null || id == null) {
      return this;
    }
    return new SnakepitException(errorCode, getMessage(), id, details);
  }

  /** {@code {"code","message","hint","correlation_id",...details}}. */
  public JsonObject toJson() {
    JsonObject json = details.copy();
    json.put("code", errorCode.code());
    json.put("message", getMessage());
    json.put("hint", errorCode.hint());
    if (correlationId != null) {
      json.put("correlation_id", correlationId);
    }
    return json;
  }

  /** Builds one from {@link #toJson()}'s shape. */
  public static SnakepitException fromJson(JsonObject json) {
    JsonObject details = json.copy();
    String code = (String) details.remove("code");
    String message = (String) details.remove("message");
    String correlationId = (String) details.remove("correlation_id");
    details.remove("hint");
    return new SnakepitException(ErrorCode.fromCode(code), message, correlationId, details);
  }

  /**
   * Answers an event-bus request with an outcome: its result as the reply, or
   * its failure as a typed error stamped with {@code correlationId}. The reply
   * may cross to another JVM, so a result with bytes names them in the header
   * {@link Headers#BYTES_AT} ({@link BytePaths#restore(Message)} reads it back).
   */
  public static void reply(Message<?> message, io.vertx.core.AsyncResult<?> outcome, String correlationId) {
    if (outcome.succeeded()) {
      message.reply(outcome.result(), BytePaths.mark(new DeliveryOptions(), outcome.result()));
    } else {
      from(outcome.cause()).withCorrelationId(correlationId).failMessage(message);
    }
  }

  /**
   * As {@link #reply}, for a request sent from this node: a JSON result and the typed error are
   * handed over by reference ({@link LocalCodecs}), not copied or encoded again on the way back.
   * The caller must not change the result afterwards.
   */
  public static void replyLocally(Message<?> message, io.vertx.core.AsyncResult<?> outcome, String correlationId) {
    if (outcome.failed()) {
      message.reply(new LocalCodecs.LocalFailure(from(outcome.cause()).withCorrelationId(correlationId)));
    } else if (outcome.result() instanceof JsonObject json) {
      message.reply(json, LocalCodecs.shared());
    } else {
      message.reply(outcome.result());
    }
  }

  /** Fails an event-bus message with this error. */
  public void failMessage(Message<?> message) {
    message.fail(errorCode.httpStatus(), toJson().encode());
  }

  /**
   * Turns any failure, including one that crossed the event bus, into a typed
   * one. Unknown failures become {@link ErrorCode#INTERNAL}; an event-bus
   * timeout keeps its meaning, and a request that found no consumer becomes
   * {@link ErrorCode#STARTING}: retryable, as nothing ran.
   */
  public static SnakepitException from(Throwable t) {
    if (t instanceof SnakepitException se) {
      return se;
    }
    if (t instanceof LocalCodecs.LocalFailure local) {
      return local.error();
    }
    if (t instanceof ReplyException re) {
      switch (re.failureType()) {
        case TIMEOUT:
          return new SnakepitException(ErrorCode.TIMEOUT, "No reply on the event bus in time: " + re.getMessage());
        case NO_HANDLERS:
          return noHandler(re);
        default:
          String msg = re.getMessage();
          if (msg != null && msg.startsWith("{")) {
            try {
              return fromJson(new JsonObject(msg));
            } catch (DecodeException ignored) {
              // fall through: not one of ours
            }
          }
          return new SnakepitException(ErrorCode.INTERNAL, String.valueOf(msg));
      }
    }
    return new SnakepitException(ErrorCode.INTERNAL, t.getClass().getSimpleName() + ": " + t.getMessage());
  }

  /**
   * A request that found no consumer: in a node, the verticle serving the address is not
   * deployed yet (the node is starting) or any more (it is stopping); in an application that
   * embeds the verticles, it may not be deployed at all. Nothing ran, so the caller may retry.
   */
  private static SnakepitException noHandler(ReplyException re) {
    String text = String.valueOf(re.getMessage());
    int at = text.lastIndexOf("address ");
    String address = at >= 0 ? text.substring(at + "address ".length()).strip() : null;
    String named = address == null || address.isEmpty() ? "the event-bus address" : "'" + address + "'";
    JsonObject details = address == null || address.isEmpty() ? null : new JsonObject().put("address", address);
    return new SnakepitException(ErrorCode.STARTING, "Nothing serves " + named + " on the event bus: the node is "
        + "starting or stopping (when embedding the verticles: the verticle serving that address is not deployed). "
        + "Nothing ran; retry shortly, or send the call to another node.", null, details);
  }
}
