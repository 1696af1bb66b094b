package io.snakepit.app.grpc;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.json.JsonObject;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.GrpcServerResponse;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * How the product's typed errors end a gRPC call: a status code chosen by
 * {@link #status(ErrorCode)}, the message as grpc-message, and in the trailing
 * metadata the error's JSON ({@value #ERROR_KEY}), its code
 * ({@value #ERROR_CODE_KEY}) and a {@code google.rpc.Status} with a
 * {@code google.rpc.ErrorInfo} (reason = the code, domain {@value #DOMAIN}) in
 * {@code grpc-status-details-bin}, the richer-error model gRPC libraries read.
 */
public final class GrpcErrors {

  /** Trailer with the error's JSON: code, message, hint, correlation_id and the code's extra fields. */
  public static final String ERROR_KEY = "snakepit-error";
  /** Trailer with the error's code alone, e.g. {@code unknown_tool}. */
  public static final String ERROR_CODE_KEY = "snakepit-error-code";
  /** The standard trailer of rich error details. */
  public static final String DETAILS_KEY = "grpc-status-details-bin";
  /** ErrorInfo.domain. */
  public static final String DOMAIN = "snakepit.io";

  /**
   * Metadata must stay small: gRPC clients refuse responses whose metadata passes a limit (8 KiB by
   * default in grpcio), so long fields (a traceback, a worker's stderr) are cut to their tail.
   */
  static final int MAX_ERROR_JSON = 3072;
  private static final int MAX_FIELD = 512;
  private static final int MAX_MESSAGE = 1024;

  private GrpcErrors() {
  }

  /** The gRPC status of each error code; exhaustive, so a new code does not compile until it is mapped here. */
  public static GrpcStatus status(ErrorCode code) {
    return switch (code) {
      case BAD_REQUEST, SESSION_REQUIRED, UNKNOWN_OP -> GrpcStatus.INVALID_ARGUMENT;
      case NOT_FOUND, UNKNOWN_TOOL, UNKNOWN_POOL, SESSION_NOT_FOUND, NOT_FOUND_IN_SESSION -> GrpcStatus.NOT_FOUND;
      case PAYLOAD_TOO_LARGE, LIMIT_EXCEEDED, WORKER_LIMIT_EXCEEDED, RATE_LIMITED -> GrpcStatus.RESOURCE_EXHAUSTED;
      case UNAUTHENTICATED -> GrpcStatus.UNAUTHENTICATED;
      case FORBIDDEN -> GrpcStatus.PERMISSION_DENIED;
      case TOOL_FAILED -> GrpcStatus.UNKNOWN;
      case WORKER_CRASHED, PROTOCOL_ERROR, INTERNAL, NODE_LOST -> GrpcStatus.INTERNAL;
      // Retrying just this call later is what the client should do: gRPC's UNAVAILABLE.
      case WORKER_BUSY, OVERLOADED, QUEUE_TIMEOUT, POOL_DEGRADED, NO_WORKERS, STARTING, SHUTTING_DOWN,
          STORE_UNAVAILABLE, OWNER_UNAVAILABLE, MINORITY_PARTITION, NOT_OWNER ->
          GrpcStatus.UNAVAILABLE;
      case TIMEOUT -> GrpcStatus.DEADLINE_EXCEEDED;
      case CANCELLED -> GrpcStatus.CANCELLED;
      case CONFLICT, RELOAD_IN_PROGRESS -> GrpcStatus.ABORTED;
      case RELOAD_FAILED -> GrpcStatus.FAILED_PRECONDITION;
      case INTEGRITY_FAILED -> GrpcStatus.DATA_LOSS;
    };
  }

  /** Ends the call with the error. Does nothing if the call is over already (say, the client cancelled it). */
  static void fail(GrpcServerResponse<?, ?> response, SnakepitException e) {
    JsonObject err = e.toJson();
    err.remove("http_status");
    GrpcStatus status = status(e.errorCode());
    try {
      response.trailers()
          .set(ERROR_CODE_KEY, e.errorCode().code())
          .set(ERROR_KEY, errorJson(err))
          .set(DETAILS_KEY, Base64.getEncoder().withoutPadding().encodeToString(statusDetails(status, err)));
      response.status(status).statusMessage(cut(String.valueOf(e.getMessage()), MAX_MESSAGE)).end();
    } catch (IllegalStateException ended) {
      // the call was cancelled or has ended: nobody to tell
    }
  }

  /** The error's JSON, bounded in size and with only printable ASCII, as metadata values must be. */
  static String errorJson(JsonObject err) {
    String json = ascii(err.encode());
    if (json.length() <= MAX_ERROR_JSON) {
      return json;
    }
    JsonObject small = err.copy().put("truncated", true);
    for (Map.Entry<String, Object> field : err) {
      if (field.getValue() instanceof String s && s.length() > MAX_FIELD && !field.getKey().equals("message")) {
        small.put(field.getKey(), "…" + s.substring(s.length() - MAX_FIELD));
      }
    }
    json = ascii(small.encode());
    if (json.length() <= MAX_ERROR_JSON) {
      return json;
    }
    JsonObject core = new JsonObject().put("truncated", true);
    for (String key : List.of("code", "message", "hint", "correlation_id")) {
      if (err.containsKey(key)) {
        core.put(key, err.getValue(key));
      }
    }
    core.put("message", cut(err.getString("message", ""), MAX_MESSAGE));
    return ascii(core.encode());
  }

  private static String cut(String s, int max) {
    return s.length() <= max ? s : s.substring(0, max) + "…";
  }

  /** Escapes every character outside printable ASCII as {@code \\uXXXX}: still the same JSON. */
  private static String ascii(String json) {
    StringBuilder b = null;
    for (int i = 0; i < json.length(); i++) {
      char c = json.charAt(i);
      if (c < 0x20 || c > 0x7e) {
        if (b == null) {
          b = new StringBuilder(json.length() + 16).append(json, 0, i);
        }
        b.append(String.format("\\u%04x", (int) c));
      } else if (b != null) {
        b.append(c);
      }
    }
    return b == null ? json : b.toString();
  }

  /**
   * {@code google.rpc.Status{code, message, details: [Any(google.rpc.ErrorInfo{reason, domain, metadata})]}},
   * encoded by hand so the node needs no google-common-protos on its classpath.
   */
  static byte[] statusDetails(GrpcStatus status, JsonObject err) {
    List<Map.Entry<String, String>> metadata = new ArrayList<>();
    for (Map.Entry<String, Object> field : err) {
      String key = field.getKey();
      if (!key.equals("code") && !key.equals("message") && field.getValue() instanceof String s
          && s.length() <= MAX_FIELD) {
        metadata.add(Map.entry(key, s));
      }
    }
    ByteString errorInfo = message(out -> {
      out.writeString(1, err.getString("code"));
      out.writeString(2, DOMAIN);
      for (Map.Entry<String, String> e : metadata) {
        out.writeBytes(3, message(entry -> {
          entry.writeString(1, e.getKey());
          entry.writeString(2, e.getValue());
        }));
      }
    });
    ByteString any = message(out -> {
      out.writeString(1, "type.googleapis.com/google.rpc.ErrorInfo");
      out.writeBytes(2, errorInfo);
    });
    return message(out -> {
      out.writeInt32(1, status.code);
      out.writeString(2, cut(err.getString("message", ""), MAX_FIELD));
      out.writeBytes(3, any);
    }).toByteArray();
  }

  private interface Fields {
    void write(CodedOutputStream out) throws IOException;
  }

  private static ByteString message(Fields fields) {
    try {
      ByteString.Output bytes = ByteString.newOutput();
      CodedOutputStream out = CodedOutputStream.newInstance(bytes);
      fields.write(out);
      out.flush();
      return bytes.toByteString();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
