package io.snakepit.app.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Value;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.grpc.common.GrpcStatus;
import org.junit.jupiter.api.Test;

/** The mapping of errors to gRPC, and of JSON to protobuf's JSON types. */
class GrpcErrorsTest {

  @Test
  void everyErrorCodeMapsToAnErrorStatus() {
    for (ErrorCode code : ErrorCode.values()) {
      assertThat(GrpcErrors.status(code)).as(code.code()).isNotEqualTo(GrpcStatus.OK);
    }
    assertThat(GrpcErrors.status(ErrorCode.BAD_REQUEST)).isEqualTo(GrpcStatus.INVALID_ARGUMENT);
    assertThat(GrpcErrors.status(ErrorCode.SESSION_NOT_FOUND)).isEqualTo(GrpcStatus.NOT_FOUND);
    assertThat(GrpcErrors.status(ErrorCode.OVERLOADED)).isEqualTo(GrpcStatus.UNAVAILABLE);
    assertThat(GrpcErrors.status(ErrorCode.TIMEOUT)).isEqualTo(GrpcStatus.DEADLINE_EXCEEDED);
    assertThat(GrpcErrors.status(ErrorCode.CONFLICT)).isEqualTo(GrpcStatus.ABORTED);
    assertThat(GrpcErrors.status(ErrorCode.LIMIT_EXCEEDED)).isEqualTo(GrpcStatus.RESOURCE_EXHAUSTED);
  }

  @Test
  void theErrorJsonIsPrintableAsciiAndSmallEvenForAHugeTraceback() {
    JsonObject err = new SnakepitException(ErrorCode.TOOL_FAILED, "Tool raised: d\u00e9j\u00e0 vu\nline two", "cid-1",
        new JsonObject().put("traceback", "x".repeat(100_000) + "LAST LINE").put("stderr", "y".repeat(50_000))
            .put("type", "RuntimeError")).toJson();
    String json = GrpcErrors.errorJson(err);
    assertThat(json.length()).isLessThanOrEqualTo(GrpcErrors.MAX_ERROR_JSON);
    assertThat(json.chars()).allMatch(c -> c >= 0x20 && c <= 0x7e);
    JsonObject back = new JsonObject(json);
    assertThat(back.getString("message")).isEqualTo("Tool raised: d\u00e9j\u00e0 vu\nline two");
    assertThat(back.getString("correlation_id")).isEqualTo("cid-1");
    assertThat(back.getString("traceback")).endsWith("LAST LINE");
    assertThat(back.getBoolean("truncated")).isTrue();
    // A small error is kept whole.
    JsonObject small = new SnakepitException(ErrorCode.UNKNOWN_TOOL, "no such tool").toJson();
    assertThat(new JsonObject(GrpcErrors.errorJson(small))).isEqualTo(small);
  }

  @Test
  void wholeNumbersBecomeWholeAndJsonRoundTrips() {
    JsonObject json = new JsonObject().put("n", 3).put("f", 2.5).put("s", "x").put("b", true).putNull("z")
        .put("l", new JsonArray().add(1).add(new JsonObject().put("k", -7)));
    Value v = JsonValues.toValue(json);
    Object back = JsonValues.toJava(v);
    assertThat(back).isEqualTo(new JsonObject().put("n", 3L).put("f", 2.5).put("s", "x").put("b", true).putNull("z")
        .put("l", new JsonArray().add(1L).add(new JsonObject().put("k", -7L))));
    assertThat(((JsonObject) back).getValue("n")).isInstanceOf(Long.class);
    assertThat(JsonValues.toJava(Value.newBuilder().setNumberValue(1e300).build())).isInstanceOf(Double.class);
    assertThatThrownBy(() -> JsonValues.toJava(Value.newBuilder().setNumberValue(Double.NaN).build()))
        .isInstanceOf(SnakepitException.class).hasMessageContaining("NaN");
    // Bytes are base64 strings, as in the node's JSON.
    assertThat(JsonValues.toValue(new byte[] {1, 2, 3}).getStringValue()).isNotEmpty();
  }
}
