package io.snakepit.app.grpc;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.grpc.common.CodecException;
import io.vertx.grpc.common.GrpcMessage;
import io.vertx.grpc.common.ServiceMethod;
import io.vertx.grpc.server.GrpcServerRequest;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.zip.GZIPInputStream;

/**
 * Reads the one request message of a unary or server-streaming call, and answers a typed
 * {@code bad_request} (INVALID_ARGUMENT) when there is none, more than one, or one that does not decode,
 * and {@code payload_too_large} (RESOURCE_EXHAUSTED) when it is past the server's limit.
 *
 * <p>Why not {@code call.handler(...)}: Vert.x's gRPC server resets the stream (CANCEL) on a message that
 * does not decode and waits forever for a message that never comes, so a malformed or empty request left
 * the client with no status, or none until its deadline (found by tests/fuzz.sh).
 */
final class GrpcRequestMessages {

  private GrpcRequestMessages() {
  }

  static <Q> void one(ServiceMethod<Q, ?> method, GrpcServerRequest<Q, ?> call, String cid, Handler<Q> handler) {
    boolean[] seen = {false};
    call.messageHandler(msg -> {
      if (seen[0]) {
        fail(call, cid, ErrorCode.BAD_REQUEST, method.methodName() + " takes one request message, not several.");
        return;
      }
      seen[0] = true;
      Q request;
      try {
        request = method.decoder().decode(identity(msg));
      } catch (CodecException | IllegalArgumentException | IllegalStateException e) {
        fail(call, cid, ErrorCode.BAD_REQUEST, "The request message is not a valid " + method.methodName()
            + " request: " + e.getMessage());
        return;
      }
      handler.handle(request);
    });
    call.invalidMessageHandler(e -> fail(call, cid, ErrorCode.PAYLOAD_TOO_LARGE,
        "The request message is larger than the server takes: " + e.getMessage()));
    // A read that fails (the deframer refusing a frame, the stream failing) fails the call's end instead of
    // completing it, so without this handler neither handler above runs and the call hangs until the client's
    // deadline. Answered typed instead; on a stream the client reset, the answer goes nowhere, harmlessly.
    call.exceptionHandler(t -> fail(call, cid, ErrorCode.BAD_REQUEST, "The request could not be read: "
        + t.getMessage()));
    call.endHandler(v -> {
      if (!seen[0]) {
        fail(call, cid, ErrorCode.BAD_REQUEST, method.methodName() + " needs a request message; the call sent none.");
      }
    });
  }

  /** The message uncompressed: identity as it is, gzip inflated; any other encoding is refused. */
  private static GrpcMessage identity(GrpcMessage msg) {
    return switch (msg.encoding()) {
      case "identity" -> msg;
      case "gzip" -> {
        try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(msg.payload().getBytes()))) {
          yield GrpcMessage.message("identity", msg.format(), Buffer.buffer(in.readAllBytes()));
        } catch (IOException e) {
          throw new IllegalArgumentException("its gzip encoding is broken (" + e.getMessage() + ")");
        }
      }
      default -> throw new IllegalArgumentException("its encoding '" + msg.encoding()
          + "' is not one this server reads (identity, gzip)");
    };
  }

  private static void fail(GrpcServerRequest<?, ?> call, String cid, ErrorCode code, String message) {
    GrpcErrors.fail(call.response(), new SnakepitException(code, message).withCorrelationId(cid));
  }
}
